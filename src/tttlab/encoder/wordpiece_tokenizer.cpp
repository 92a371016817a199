#include "tttlab/encoder/wordpiece_tokenizer.hpp"

#include <fstream>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"

namespace tttlab::encoder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using CodePoints = std::u32string;

CodePoints decode_utf8(const std::string& s) {
  CodePoints out;
  out.reserve(s.size());
  int32_t i = 0;
  const auto n = static_cast<int32_t>(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  while (i < n) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    out.push_back(static_cast<char32_t>(c < 0 ? 0xFFFD : c));
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  uint8_t buf[4];
  int32_t len = 0;
  UBool error = false;  // cannot happen: c is a code point from decode_utf8 or ICU
  U8_APPEND(buf, len, 4, static_cast<UChar32>(c), error);
  (void)error;
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(len));
}

std::string encode_utf8(const char32_t* begin, const char32_t* end) {
  std::string out;
  for (const char32_t* c = begin; c != end; ++c) append_utf8(out, *c);
  return out;
}

// Known to the reference's (older) general-category tables; see the header.
bool in_reference_tables(char32_t c) {
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  return age[0] != 0 && age[0] <= kReferenceUnicodeMajor;
}

int8_t category(char32_t c) { return u_charType(static_cast<UChar32>(c)); }

// Rust's char::is_whitespace: the White_Space property.
bool is_whitespace(char32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE); }

bool is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  const int8_t t = category(c);
  return (t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_PRIVATE_USE_CHAR || t == U_SURROGATE) &&
         in_reference_tables(c);
}

bool is_nonspacing_mark(char32_t c) { return category(c) == U_NON_SPACING_MARK && in_reference_tables(c); }

bool is_punctuation(char32_t c) {
  if (c < 128) return std::ispunct(static_cast<int>(c)) != 0;
  const int8_t t = category(c);
  const bool p = t == U_DASH_PUNCTUATION || t == U_START_PUNCTUATION || t == U_END_PUNCTUATION ||
                 t == U_CONNECTOR_PUNCTUATION || t == U_OTHER_PUNCTUATION || t == U_INITIAL_PUNCTUATION ||
                 t == U_FINAL_PUNCTUATION;
  return p && in_reference_tables(c);
}

// The CJK ideograph blocks BERT puts spaces around (the reference's own list of ranges).
bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

CodePoints nfd(const CodePoints& text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* norm = icu::Normalizer2::getNFDInstance(status);
  icu::UnicodeString u;
  for (const char32_t c : text) u.append(static_cast<UChar32>(c));
  const icu::UnicodeString d = norm->normalize(u, status);
  require_input(U_SUCCESS(status), "NFD normalisation failed ({})", u_errorName(status));
  CodePoints out;
  for (int32_t i = 0; i < d.length(); i = d.moveIndex32(i, 1)) out.push_back(static_cast<char32_t>(d.char32At(i)));
  return out;
}

// Each character's full lower-case mapping on its own (Rust's char::to_lowercase: no context, so a
// capital sigma always becomes U+03C3).
void append_lowercase(CodePoints& out, char32_t c) {
  if (c < 128) {
    out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return;
  }
  UChar src[2], dst[8];
  int32_t src_len = 0;
  UBool error = false;
  U16_APPEND(src, src_len, 2, static_cast<UChar32>(c), error);
  (void)error;
  UErrorCode status = U_ZERO_ERROR;
  const int32_t n = u_strToLower(dst, 8, src, src_len, "", &status);
  if (U_FAILURE(status)) {
    out.push_back(c);
    return;
  }
  for (int32_t i = 0; i < n;) {
    UChar32 l;
    U16_NEXT(dst, i, n, l);
    out.push_back(static_cast<char32_t>(l));
  }
}

std::string read_file(const fs::path& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  require_input(in.good(), "{}: cannot open the {}", path.string(), what);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

json parse_json(const std::string& text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw_input_error("{}: not valid JSON ({})", where, printable(e.what()));
  }
}

bool bool_field(const json& j, const char* name, bool fallback, const std::string& where) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return fallback;
  require_input(it->is_boolean(), "{}: field '{}' must be true or false (found {})", where, name, printable(it->dump()));
  return it->get<bool>();
}

std::string string_field(const json& j, const char* name, const std::string& fallback, const std::string& where) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return fallback;
  // A special token in tokenizer_config.json may be an object {"content": "[CLS]", ...}.
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"];
  require_input(it->is_string(), "{}: field '{}' must be a string (found {})", where, name, printable(it->dump()));
  return it->get<std::string>();
}

}  // namespace

bool is_valid_utf8(const std::string& bytes) {
  int32_t i = 0;
  const auto n = static_cast<int32_t>(bytes.size());
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  while (i < n) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0) return false;
  }
  return true;
}

struct WordPieceTokenizer::Impl {
  std::string where;
  BertNormalizerOptions norm{false, false, false, false};
  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::string> id_to_token;
  std::vector<lm::AddedToken> added;
  std::string unk_token = "[UNK]", prefix = "##";
  int64_t unk_id = -1, max_input_chars_per_word = 100;
  std::vector<int64_t> before, after;  // the post-processor's special tokens around the pieces

  void set_token(int64_t id, const std::string& token) {
    if (static_cast<size_t>(id) >= id_to_token.size()) id_to_token.resize(static_cast<size_t>(id) + 1);
    id_to_token[static_cast<size_t>(id)] = token;
  }

  int64_t lookup(const std::string& token) const {
    for (const auto& a : added) {
      if (a.content == token) return a.id;
    }
    const auto it = vocab.find(token);
    return it == vocab.end() ? -1 : it->second;
  }

  int64_t require_token(const std::string& token, const char* role) const {
    const int64_t id = lookup(token);
    require_input(id >= 0, "{}: the {} token {} is not in the vocabulary", where, role, printable(json(token).dump()));
    return id;
  }

  CodePoints normalize(const CodePoints& text) const {
    CodePoints s;
    s.reserve(text.size());
    for (const char32_t c : text) {
      if (norm.clean_text) {
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_whitespace(c)) {
          s.push_back(U' ');
          continue;
        }
      }
      if (norm.handle_chinese_chars && is_chinese_char(c)) {
        s.push_back(U' ');
        s.push_back(c);
        s.push_back(U' ');
        continue;
      }
      s.push_back(c);
    }
    if (norm.strip_accents) {
      CodePoints kept;
      for (const char32_t c : nfd(s)) {
        if (!is_nonspacing_mark(c)) kept.push_back(c);
      }
      s = std::move(kept);
    }
    if (norm.lowercase) {
      CodePoints lower;
      lower.reserve(s.size());
      for (const char32_t c : s) append_lowercase(lower, c);
      s = std::move(lower);
    }
    return s;
  }

  std::vector<CodePoints> pre_tokenize(const CodePoints& s) const {
    std::vector<CodePoints> words;
    CodePoints word;
    auto flush = [&] {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    };
    for (const char32_t c : s) {
      if (is_whitespace(c)) {
        flush();
      } else if (is_punctuation(c)) {
        flush();
        words.push_back(CodePoints(1, c));
      } else {
        word.push_back(c);
      }
    }
    flush();
    return words;
  }

  void word_pieces(const CodePoints& word, std::vector<int64_t>& out) const {
    if (static_cast<int64_t>(word.size()) > max_input_chars_per_word) {
      out.push_back(unk_id);
      return;
    }
    std::vector<int64_t> pieces;
    size_t start = 0;
    while (start < word.size()) {
      int64_t found = -1;
      size_t end = word.size();
      for (; end > start; --end) {
        std::string piece = start > 0 ? prefix : std::string();
        piece += encode_utf8(word.data() + start, word.data() + end);
        const auto it = vocab.find(piece);
        if (it != vocab.end()) {
          found = it->second;
          break;
        }
      }
      if (found < 0) {  // the word cannot be covered: all of it is unknown
        out.push_back(unk_id);
        return;
      }
      pieces.push_back(found);
      start = end;
    }
    out.insert(out.end(), pieces.begin(), pieces.end());
  }

  void encode_plain(const std::string& text, std::vector<int64_t>& out) const {
    for (const auto& word : pre_tokenize(normalize(decode_utf8(text)))) word_pieces(word, out);
  }

  void read_vocab_json(const json& m) {
    require_input(m.contains("vocab") && m["vocab"].is_object(), "{}: model.vocab must be an object", where);
    const auto max_id = static_cast<int64_t>(m["vocab"].size()) + 65536;
    for (const auto& [token, id] : m["vocab"].items()) {
      const bool ok = id.is_number_integer() && !id.is_number_float() &&
                      (id.is_number_unsigned() ? id.get<uint64_t>() < static_cast<uint64_t>(max_id)
                                               : id.get<int64_t>() >= 0 && id.get<int64_t>() < max_id);
      require_input(ok, "{}: vocab entry {} has a bad id {} (expected an integer 0 <= id < {})", where,
                    printable(json(token).dump()), printable(id.dump()), max_id);
      vocab[token] = id.get<int64_t>();
      set_token(id.get<int64_t>(), token);
    }
    require_input(!vocab.empty(), "{}: the vocabulary is empty", where);
  }

  void read_post_processor(const json& p) {
    if (p.is_null()) return;
    const std::string type = string_field(p, "type", "", where);
    if (type == "BertProcessing") {
      auto pair_id = [&](const char* name) {
        const auto it = p.find(name);
        require_input(it != p.end() && it->is_array() && it->size() == 2 && (*it)[1].is_number_integer() &&
                          (*it)[1].get<int64_t>() >= 0,
                      "{}: post_processor.{} must be [token, id]", where, name);
        return (*it)[1].get<int64_t>();
      };
      before = {pair_id("cls")};
      after = {pair_id("sep")};
      return;
    }
    require_input(type == "TemplateProcessing",
                  "{}: post-processor '{}' is not supported (TemplateProcessing or BertProcessing)", where,
                  printable(type));
    const auto single = p.find("single");
    require_input(single != p.end() && single->is_array(), "{}: post_processor.single must be a list", where);
    const json specials = p.value("special_tokens", json::object());
    bool seen_sequence = false;
    for (const auto& piece : *single) {
      if (piece.contains("Sequence")) {
        require_input(!seen_sequence, "{}: post_processor.single holds the sequence twice", where);
        seen_sequence = true;
        continue;
      }
      const auto st = piece.find("SpecialToken");
      require_input(st != piece.end() && st->is_object() && (*st).contains("id") && (*st)["id"].is_string(),
                    "{}: post_processor.single has an entry {} that is neither Sequence nor SpecialToken", where,
                    printable(piece.dump()));
      const std::string name = (*st)["id"];
      std::vector<int64_t> ids;
      const auto spec = specials.find(name);
      if (spec != specials.end() && spec->contains("ids") && (*spec)["ids"].is_array()) {
        for (const auto& id : (*spec)["ids"]) {
          require_input(id.is_number_integer() && id.get<int64_t>() >= 0, "{}: special token {} has a bad id", where,
                        printable(json(name).dump()));
          ids.push_back(id.get<int64_t>());
        }
      } else {
        ids.push_back(require_token(name, "post-processor"));
      }
      auto& side = seen_sequence ? after : before;
      side.insert(side.end(), ids.begin(), ids.end());
    }
    require_input(seen_sequence, "{}: post_processor.single has no Sequence", where);
  }

  void read_tokenizer_json(const json& j) {
    require_input(j.is_object() && j.contains("model") && j["model"].is_object(),
                  "{}: expected a Hugging Face tokenizer.json with a 'model'", where);
    const json& m = j["model"];
    const std::string type = string_field(m, "type", "WordPiece", where);
    require_input(type == "WordPiece", "{}: model type '{}' is not supported here (WordPiece only)", where,
                  printable(type));
    read_vocab_json(m);
    unk_token = string_field(m, "unk_token", "[UNK]", where);
    prefix = string_field(m, "continuing_subword_prefix", "##", where);
    const auto maxc = m.find("max_input_chars_per_word");
    if (maxc != m.end() && !maxc->is_null()) {
      require_input(maxc->is_number_integer() && maxc->get<int64_t>() > 0,
                    "{}: model.max_input_chars_per_word must be a positive integer", where);
      max_input_chars_per_word = maxc->get<int64_t>();
    }
    added = lm::read_added_tokens(j.value("added_tokens", json()), static_cast<int64_t>(id_to_token.size()) + 65536,
                                  where);
    for (const auto& a : added) set_token(a.id, a.content);

    const json n = j.value("normalizer", json());
    if (!n.is_null()) {
      const std::string ntype = string_field(n, "type", "", where);
      require_input(ntype == "BertNormalizer", "{}: normalizer '{}' is not supported (BertNormalizer only)", where,
                    printable(ntype));
      norm.clean_text = bool_field(n, "clean_text", true, where);
      norm.handle_chinese_chars = bool_field(n, "handle_chinese_chars", true, where);
      norm.lowercase = bool_field(n, "lowercase", true, where);
      norm.strip_accents = bool_field(n, "strip_accents", norm.lowercase, where);
    }
    const json pre = j.value("pre_tokenizer", json());
    const std::string ptype = pre.is_object() ? string_field(pre, "type", "", where) : "";
    require_input(ptype == "BertPreTokenizer", "{}: pre-tokenizer {} is not supported (BertPreTokenizer only)", where,
                  printable(pre.is_null() ? std::string("none") : pre.dump()));
    read_post_processor(j.value("post_processor", json()));
    unk_id = require_token(unk_token, "unknown");
  }
};

WordPieceTokenizer::WordPieceTokenizer() : impl_(std::make_unique<Impl>()) {}
WordPieceTokenizer::~WordPieceTokenizer() = default;
WordPieceTokenizer::WordPieceTokenizer(WordPieceTokenizer&&) noexcept = default;
WordPieceTokenizer& WordPieceTokenizer::operator=(WordPieceTokenizer&&) noexcept = default;

WordPieceTokenizer WordPieceTokenizer::from_json_text(const std::string& json_text, const std::string& where) {
  WordPieceTokenizer t;
  t.impl_->where = where;
  try {
    t.impl_->read_tokenizer_json(parse_json(json_text, where));
  } catch (const json::exception& e) {
    throw_input_error("{}: malformed tokenizer ({})", where, printable(e.what()));
  }
  return t;
}

WordPieceTokenizer WordPieceTokenizer::from_tokenizer_json(const fs::path& tokenizer_json) {
  return from_json_text(read_file(tokenizer_json, "tokenizer"), tokenizer_json.string());
}

WordPieceTokenizer WordPieceTokenizer::from_vocab_txt(const fs::path& vocab_txt, const BertNormalizerOptions& options) {
  WordPieceTokenizer t;
  Impl& m = *t.impl_;
  m.where = vocab_txt.string();
  m.norm = options;
  std::istringstream lines(read_file(vocab_txt, "vocabulary"));
  std::string line;
  int64_t id = 0;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    require_input(is_valid_utf8(line), "{}: line {} is not valid UTF-8", m.where, id + 1);
    m.vocab.emplace(line, id);
    m.set_token(id++, line);
  }
  require_input(!m.vocab.empty(), "{}: the vocabulary is empty", m.where);
  // BertTokenizerFast: the five special tokens are added tokens (matched in the raw text).
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    const auto it = m.vocab.find(special);
    if (it != m.vocab.end()) m.added.push_back({it->second, special, true, false, false});
  }
  m.unk_id = m.require_token("[UNK]", "unknown");
  m.before = {m.require_token("[CLS]", "classification")};
  m.after = {m.require_token("[SEP]", "separator")};
  return t;
}

WordPieceTokenizer WordPieceTokenizer::from_model_dir(const fs::path& dir) {
  if (fs::exists(dir / "tokenizer.json")) return from_tokenizer_json(dir / "tokenizer.json");
  require_input(fs::exists(dir / "vocab.txt"), "{}: no tokenizer.json or vocab.txt", dir.string());
  BertNormalizerOptions options;
  const fs::path config = dir / "tokenizer_config.json";
  if (fs::exists(config)) {
    const json j = parse_json(read_file(config, "tokenizer configuration"), config.string());
    require_input(j.is_object(), "{}: expected a JSON object", config.string());
    options.lowercase = bool_field(j, "do_lower_case", true, config.string());
    options.strip_accents = bool_field(j, "strip_accents", options.lowercase, config.string());
    options.handle_chinese_chars = bool_field(j, "tokenize_chinese_chars", true, config.string());
  }
  return from_vocab_txt(dir / "vocab.txt", options);
}

std::vector<int64_t> WordPieceTokenizer::encode(const std::string& text, int64_t max_length,
                                                const std::string& what) const {
  const Impl& m = *impl_;
  require_input(is_valid_utf8(text), "{}: not valid UTF-8", what);
  std::vector<int64_t> pieces;
  for (const auto& segment : lm::split_on_added_tokens(text, m.added)) {
    if (segment.token_id >= 0) {
      pieces.push_back(segment.token_id);
    } else {
      m.encode_plain(segment.text, pieces);
    }
  }
  const auto specials = static_cast<int64_t>(m.before.size() + m.after.size());
  if (max_length > 0) {
    require_input(max_length > specials, "max length {} leaves no room beside the {} special tokens", max_length,
                  specials);
    if (static_cast<int64_t>(pieces.size()) > max_length - specials) pieces.resize(static_cast<size_t>(max_length - specials));
  }
  std::vector<int64_t> out(m.before);
  out.insert(out.end(), pieces.begin(), pieces.end());
  out.insert(out.end(), m.after.begin(), m.after.end());
  return out;
}

std::string WordPieceTokenizer::normalize(const std::string& text) const {
  const CodePoints n = impl_->normalize(decode_utf8(text));
  return encode_utf8(n.data(), n.data() + n.size());
}

std::vector<std::string> WordPieceTokenizer::pre_tokenize(const std::string& normalized) const {
  std::vector<std::string> out;
  for (const auto& w : impl_->pre_tokenize(decode_utf8(normalized))) out.push_back(encode_utf8(w.data(), w.data() + w.size()));
  return out;
}

int64_t WordPieceTokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_to_token.size()); }

std::string WordPieceTokenizer::id_to_token(int64_t id) const {
  require_input(id >= 0 && static_cast<size_t>(id) < impl_->id_to_token.size(), "token id {} out of range", id);
  return impl_->id_to_token[static_cast<size_t>(id)];
}

int64_t WordPieceTokenizer::token_to_id(const std::string& token) const { return impl_->lookup(token); }

int64_t WordPieceTokenizer::pad_id() const {
  const int64_t id = impl_->lookup("[PAD]");
  return id >= 0 ? id : 0;
}

const BertNormalizerOptions& WordPieceTokenizer::normalizer_options() const { return impl_->norm; }

}  // namespace tttlab::encoder
