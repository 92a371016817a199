#pragma once
// Byte-level BPE tokenizers from a Hugging Face tokenizer.json (Qwen2, GPT-2 and their kind):
//   text -> invalid UTF-8 replaced by U+FFFD -> added/special tokens split off (leftmost longest)
//        -> normalizer (NFC, NFD, NFKC, NFKD, or a sequence of them; ICU)
//        -> pre-tokenizer (Split on the file's regex, e.g. Qwen2's, and/or ByteLevel; ICU regex)
//        -> bytes mapped to GPT-2's printable byte alphabet -> BPE merges by rank -> ids
// decode(ids) maps tokens back to bytes and replaces invalid UTF-8 with U+FFFD, as the reference's
// ByteLevel decoder does. A tokenizer.json with a model, normalizer or pre-tokenizer outside this
// set is an InputError naming the field.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tttlab/lm/added_tokens.hpp"

namespace tttlab::lm {

class BpeTokenizer {
 public:
  static BpeTokenizer from_file(const std::filesystem::path& tokenizer_json);
  static BpeTokenizer from_json_text(const std::string& json_text, const std::string& where);
  ~BpeTokenizer();
  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;

  std::vector<int64_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;

  int64_t vocab_size() const;  // largest id + 1 (vocabulary and added tokens)
  std::string id_to_token(int64_t id) const;
  int64_t token_to_id(const std::string& token) const;  // -1 if absent
  const std::vector<AddedToken>& added_tokens() const;

 private:
  BpeTokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Replaces every invalid UTF-8 sequence with U+FFFD (one per maximal invalid subpart, as Python's
// bytes.decode('utf-8', 'replace') and Rust's from_utf8_lossy do).
std::string sanitize_utf8(const std::string& bytes);

}  // namespace tttlab::lm
