#include "tttlab/lm/bpe_tokenizer.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>
#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"

namespace tttlab::lm {

using nlohmann::json;

namespace {

// GPT-2's printable stand-ins for the 256 byte values: printable Latin-1 bytes stand for themselves,
// the others for code points 256 and up, in byte order.
std::array<std::string, 256> byte_alphabet() {
  std::array<std::string, 256> out;
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    std::string s;
    icu::UnicodeString(static_cast<UChar32>(printable ? b : next++)).toUTF8String(s);
    out[static_cast<size_t>(b)] = s;
  }
  return out;
}

// The pre-tokenizer regexes come in Rust/Oniguruma syntax. ICU reads it the same, except that ICU's
// \s is [\t\n\f\r\p{Z}] while theirs is Unicode White_Space (which adds \v and U+0085).
std::string icu_regex_syntax(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's')
        out += "\\p{White_Space}";
      else if (next == 'S')
        out += "\\P{White_Space}";
      else
        out += {'\\', next};
    } else {
      out += pattern[i];
    }
  }
  return out;
}

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

icu::UnicodeString to_unicode(const std::string& utf8) {
  return icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
}

std::string to_utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

template <typename T>
T get_field(const json& j, const char* name, const std::string& where, T fallback) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw_input_error("{}: field '{}' has the wrong type ({})", where, name, printable(it->dump()));
  }
}

}  // namespace

std::string sanitize_utf8(const std::string& bytes) { return to_utf8(to_unicode(bytes)); }

struct BpeTokenizer::Impl {
  std::string where;
  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::string> id_to_token;                              // vocabulary and added tokens by id ("" for gaps)
  std::unordered_map<uint64_t, std::pair<int32_t, int64_t>> merges;  // (left id, right id) -> (rank, merged id)
  std::vector<AddedToken> added;
  std::unordered_map<int64_t, size_t> added_by_id;
  std::vector<const icu::Normalizer2*> normalizers;
  std::vector<std::unique_ptr<icu::RegexPattern>> splits;  // applied in order, "Isolated" behaviour
  bool add_prefix_space = false;
  bool ignore_merges = false, byte_fallback = false;
  int64_t unk_id = -1;
  std::array<std::string, 256> byte_chars = byte_alphabet();
  std::unordered_map<UChar32, uint8_t> char_to_byte;

  // How far ids may run past the number of tokens in the file (real files are dense; some leave a
  // few reserved ids unused).
  static constexpr int64_t kIdSlack = 65536;

  // An integer id in [0, max_id). Checked before get<int64_t>(), which casts floats (1e30: undefined).
  static bool valid_id(const json& id, int64_t max_id) {
    if (!id.is_number_integer()) return false;
    if (id.is_number_unsigned()) return id.get<uint64_t>() < static_cast<uint64_t>(max_id);
    return id.get<int64_t>() >= 0 && id.get<int64_t>() < max_id;
  }

  static uint64_t pair_key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b); }

  void add_split(const std::string& pattern) {
    UErrorCode status = U_ZERO_ERROR;
    UParseError parse_error;
    std::unique_ptr<icu::RegexPattern> re(
        icu::RegexPattern::compile(to_unicode(icu_regex_syntax(pattern)), 0, parse_error, status));
    require_input(U_SUCCESS(status) && re, "{}: pre-tokenizer regex {} does not compile ({})", where,
                  printable(json(pattern).dump()), u_errorName(status));
    splits.push_back(std::move(re));
  }

  void read_normalizer(const json& n) {
    if (n.is_null()) return;
    const auto type = get_field<std::string>(n, "type", where, "");
    UErrorCode status = U_ZERO_ERROR;
    if (type == "Sequence") {
      for (const auto& inner : n.value("normalizers", json::array())) read_normalizer(inner);
      return;
    }
    const icu::Normalizer2* norm = nullptr;
    if (type == "NFC")
      norm = icu::Normalizer2::getNFCInstance(status);
    else if (type == "NFD")
      norm = icu::Normalizer2::getNFDInstance(status);
    else if (type == "NFKC")
      norm = icu::Normalizer2::getNFKCInstance(status);
    else if (type == "NFKD")
      norm = icu::Normalizer2::getNFKDInstance(status);
    else
      throw_input_error("{}: normalizer '{}' is not supported (NFC, NFD, NFKC, NFKD or a Sequence of them)", where,
                        printable(type));
    require_input(U_SUCCESS(status) && norm, "{}: ICU has no {} normalizer ({})", where, type, u_errorName(status));
    normalizers.push_back(norm);
  }

  bool has_byte_level = false;
  void read_pre_tokenizer(const json& p) {
    if (p.is_null()) return;
    const auto type = get_field<std::string>(p, "type", where, "");
    if (type == "Sequence") {
      for (const auto& inner : p.value("pretokenizers", json::array())) read_pre_tokenizer(inner);
    } else if (type == "Split") {
      const auto behavior = get_field<std::string>(p, "behavior", where, "");
      require_input(behavior == "Isolated", "{}: Split behaviour '{}' is not supported (Isolated only)", where,
                    printable(behavior));
      require_input(!get_field<bool>(p, "invert", where, false), "{}: Split with invert=true is not supported", where);
      const json& pat = p.at("pattern");
      if (pat.contains("Regex")) {
        add_split(pat["Regex"].get<std::string>());
      } else {
        // A literal string: escape it for the regex engine.
        add_split("\\Q" + pat.at("String").get<std::string>() + "\\E");
      }
    } else if (type == "ByteLevel") {
      has_byte_level = true;
      add_prefix_space = get_field<bool>(p, "add_prefix_space", where, false);
      if (get_field<bool>(p, "use_regex", where, true)) add_split(kGpt2Pattern);
    } else {
      throw_input_error("{}: pre-tokenizer '{}' is not supported (Split, ByteLevel or a Sequence of them)", where,
                        printable(type));
    }
  }

  void read(const json& j) {
    require_input(j.is_object() && j.contains("model"), "{}: expected a Hugging Face tokenizer.json with a 'model'",
                  where);
    const json& m = j["model"];
    const auto type = get_field<std::string>(m, "type", where, "BPE");
    require_input(type == "BPE", "{}: model type '{}' is not supported (BPE only)", where, printable(type));
    for (const char* unsupported : {"continuing_subword_prefix", "end_of_word_suffix", "dropout"}) {
      // Not require_input: its message arguments are evaluated first, and it->dump() on end() reads
      // past the object (ASan: heap-buffer-overflow, found by fuzz_tokenizer).
      const auto it = m.find(unsupported);
      if (it != m.end() && !it->is_null()) {
        throw_input_error("{}: model.{}={} is not supported", where, unsupported, printable(it->dump()));
      }
    }
    ignore_merges = get_field<bool>(m, "ignore_merges", where, false);
    byte_fallback = get_field<bool>(m, "byte_fallback", where, false);
    require_input(m.contains("vocab") && m["vocab"].is_object(), "{}: model.vocab must be an object", where);
    // Ids index a dense table (id_to_token), so they are bounded by the number of tokens the file
    // holds, with room for gaps: a 100-byte file must not ask for gigabytes.
    const json& added_json = j.value("added_tokens", json::array());
    const int64_t max_id =
        static_cast<int64_t>(m["vocab"].size() + (added_json.is_array() ? added_json.size() : 0)) + kIdSlack;
    for (const auto& [token, id_json] : m["vocab"].items()) {
      require_input(valid_id(id_json, max_id),
                    "{}: vocab entry {} has a bad id {} (expected an integer 0 <= id < {}: the number of tokens "
                    "in the file plus {})",
                    where, printable(json(token).dump()), printable(id_json.dump()), max_id, kIdSlack);
      set_token(id_json.get<int64_t>(), token);
      vocab[token] = id_json.get<int64_t>();
    }
    const auto unk = get_field<std::string>(m, "unk_token", where, "");
    if (!unk.empty()) unk_id = token_id(unk);

    int32_t rank = 0;
    for (const auto& entry : m.value("merges", json::array())) {
      std::string left, right;
      if (entry.is_string()) {  // "a b" (older files)
        const auto s = entry.get<std::string>();
        const auto space = s.find(' ', 1);
        require_input(space != std::string::npos, "{}: merge {} is not 'left right'", where, printable(entry.dump()));
        left = s.substr(0, space), right = s.substr(space + 1);
      } else {
        require_input(entry.is_array() && entry.size() == 2, "{}: merge {} is not a pair", where,
                      printable(entry.dump()));
        left = entry[0].get<std::string>(), right = entry[1].get<std::string>();
      }
      const int64_t a = token_id(left), b = token_id(right), merged = token_id(left + right);
      require_input(a >= 0 && b >= 0 && merged >= 0, "{}: merge {} uses a token that is not in the vocabulary", where,
                    printable(entry.dump()));
      merges.emplace(pair_key(a, b), std::make_pair(rank++, merged));
    }

    added = read_added_tokens(added_json, max_id, where);
    for (const auto& a : added) set_token(a.id, a.content);
    added_by_id.clear();
    for (size_t i = 0; i < added.size(); ++i) added_by_id[added[i].id] = i;

    read_normalizer(j.value("normalizer", json()));
    read_pre_tokenizer(j.value("pre_tokenizer", json()));
    require_input(has_byte_level, "{}: only byte-level BPE is supported (no ByteLevel pre-tokenizer found)", where);
    for (int b = 0; b < 256; ++b)
      char_to_byte[to_unicode(byte_chars[static_cast<size_t>(b)]).char32At(0)] = static_cast<uint8_t>(b);
  }

  void set_token(int64_t id, const std::string& token) {
    if (static_cast<size_t>(id) >= id_to_token.size()) id_to_token.resize(static_cast<size_t>(id) + 1);
    id_to_token[static_cast<size_t>(id)] = token;
  }

  int64_t token_id(const std::string& token) const {
    const auto it = vocab.find(token);
    return it == vocab.end() ? -1 : it->second;
  }

  std::string normalize(const std::string& text) const {
    if (normalizers.empty()) return text;
    icu::UnicodeString u = to_unicode(text);
    for (const auto* n : normalizers) {
      UErrorCode status = U_ZERO_ERROR;
      u = n->normalize(u, status);
      if (U_FAILURE(status)) throw std::runtime_error(fmt::format("ICU normalisation failed: {}", u_errorName(status)));
    }
    return to_utf8(u);
  }

  // Each split's regex cuts every piece into its matches and the text between them.
  std::vector<std::string> pre_tokenize(const std::string& text) const {
    std::vector<icu::UnicodeString> pieces{to_unicode(text)};
    for (const auto& re : splits) {
      std::vector<icu::UnicodeString> next;
      for (const auto& piece : pieces) {
        UErrorCode status = U_ZERO_ERROR;
        std::unique_ptr<icu::RegexMatcher> matcher(re->matcher(piece, status));
        int32_t last = 0;
        while (U_SUCCESS(status) && matcher->find(status)) {
          const int32_t start = matcher->start(status), end = matcher->end(status);
          if (start == end) continue;
          if (start > last) next.emplace_back(piece, last, start - last);  // copies (no aliases)
          next.emplace_back(piece, start, end - start);
          last = end;
        }
        if (U_FAILURE(status)) throw std::runtime_error(fmt::format("ICU regex failed: {}", u_errorName(status)));
        if (last < piece.length()) next.emplace_back(piece, last, piece.length() - last);
      }
      pieces = std::move(next);
    }
    std::vector<std::string> out;
    out.reserve(pieces.size());
    for (const auto& p : pieces) out.push_back(to_utf8(p));
    return out;
  }

  // BPE on one pre-tokenized piece: its bytes as byte-level symbols, then the lowest-ranked adjacent
  // pair merged until none is in the merge table.
  void bpe(const std::string& piece, std::vector<int64_t>& out) const {
    std::string chars;
    for (const unsigned char b : piece) chars += byte_chars[b];
    if (ignore_merges) {
      const int64_t whole = token_id(chars);
      if (whole >= 0) {
        out.push_back(whole);
        return;
      }
    }
    std::vector<int64_t> symbols;
    symbols.reserve(piece.size());
    for (const unsigned char b : piece) {
      const int64_t id = token_id(byte_chars[b]);
      if (id >= 0) {
        symbols.push_back(id);
      } else if (byte_fallback && token_id(fmt::format("<0x{:02X}>", b)) >= 0) {
        symbols.push_back(token_id(fmt::format("<0x{:02X}>", b)));
      } else if (unk_id >= 0) {
        symbols.push_back(unk_id);
      }  // else: dropped, as the reference does when neither fallback nor unk exists
    }
    while (symbols.size() > 1) {
      int32_t best_rank = std::numeric_limits<int32_t>::max();
      size_t best = 0;
      int64_t merged = -1;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        const auto it = merges.find(pair_key(symbols[i], symbols[i + 1]));
        if (it != merges.end() && it->second.first < best_rank) {
          best_rank = it->second.first, best = i, merged = it->second.second;
        }
      }
      if (merged < 0) break;
      // Merge every non-overlapping occurrence of the best pair, left to right.
      const int64_t a = symbols[best], b = symbols[best + 1];
      std::vector<int64_t> next;
      next.reserve(symbols.size());
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == a && symbols[i + 1] == b) {
          next.push_back(merged);
          ++i;
        } else {
          next.push_back(symbols[i]);
        }
      }
      symbols = std::move(next);
    }
    out.insert(out.end(), symbols.begin(), symbols.end());
  }

  void encode_plain(const std::string& text, std::vector<int64_t>& out) const {
    if (text.empty()) return;
    std::string normalized = normalize(text);
    if (add_prefix_space && !normalized.empty() && normalized[0] != ' ') normalized.insert(0, " ");
    for (const auto& piece : pre_tokenize(normalized)) bpe(piece, out);
  }
};

BpeTokenizer::BpeTokenizer() : impl_(std::make_unique<Impl>()) {}
BpeTokenizer::~BpeTokenizer() = default;
BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;

BpeTokenizer BpeTokenizer::from_json_text(const std::string& json_text, const std::string& where) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    throw_input_error("{}: not valid JSON ({})", where, printable(e.what()));
  }
  BpeTokenizer t;
  t.impl_->where = where;
  try {
    t.impl_->read(j);
  } catch (const json::exception& e) {
    throw_input_error("{}: malformed tokenizer ({})", where, printable(e.what()));
  }
  return t;
}

BpeTokenizer BpeTokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  std::ifstream in(tokenizer_json, std::ios::binary);
  require_input(in.good(), "{}: cannot open the tokenizer", tokenizer_json.string());
  std::ostringstream text;
  text << in.rdbuf();
  return from_json_text(text.str(), tokenizer_json.string());
}

std::vector<int64_t> BpeTokenizer::encode(const std::string& raw) const {
  const Impl& m = *impl_;
  const std::string text = sanitize_utf8(raw);
  std::vector<int64_t> out;
  // Added tokens are cut out first (added_tokens.hpp); the text between them is encoded plainly.
  for (const auto& segment : split_on_added_tokens(text, m.added)) {
    if (segment.token_id >= 0) {
      out.push_back(segment.token_id);
    } else {
      m.encode_plain(segment.text, out);
    }
  }
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  const Impl& m = *impl_;
  // As the reference's ByteLevel decoder: each token's characters back to bytes (a token with a
  // character outside the byte alphabet contributes its UTF-8 as is), then one lossy UTF-8 pass.
  std::string bytes;
  for (const int64_t id : ids) {
    require_input(
        id >= 0 && static_cast<size_t>(id) < m.id_to_token.size() && !m.id_to_token[static_cast<size_t>(id)].empty(),
        "token id {} is not in the tokenizer's vocabulary (size {})", id, m.id_to_token.size());
    const auto added = m.added_by_id.find(id);
    if (skip_special_tokens && added != m.added_by_id.end() && m.added[added->second].special) continue;
    const std::string& token = m.id_to_token[static_cast<size_t>(id)];
    const icu::UnicodeString u = to_unicode(token);
    std::string token_bytes;
    bool all_mapped = true;
    for (int32_t i = 0; i < u.length(); i = u.moveIndex32(i, 1)) {
      const auto it = m.char_to_byte.find(u.char32At(i));
      if (it == m.char_to_byte.end()) {
        all_mapped = false;
        break;
      }
      token_bytes += static_cast<char>(it->second);
    }
    bytes += all_mapped ? token_bytes : token;
  }
  return sanitize_utf8(bytes);
}

int64_t BpeTokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_to_token.size()); }

std::string BpeTokenizer::id_to_token(int64_t id) const {
  require_input(id >= 0 && static_cast<size_t>(id) < impl_->id_to_token.size(), "token id {} out of range", id);
  return impl_->id_to_token[static_cast<size_t>(id)];
}

int64_t BpeTokenizer::token_to_id(const std::string& token) const {
  for (const auto& a : impl_->added) {
    if (a.content == token) return a.id;
  }
  return impl_->token_id(token);
}

const std::vector<AddedToken>& BpeTokenizer::added_tokens() const { return impl_->added; }

}  // namespace tttlab::lm
