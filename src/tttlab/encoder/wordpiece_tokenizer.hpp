#pragma once
// The WordPiece tokenizer of BERT-family encoders, as Hugging Face `tokenizers` runs it:
//   raw text (must be UTF-8) -> added/special tokens cut out ([CLS], [MASK], ...; lm/added_tokens.hpp)
//     -> BertNormalizer: drop NUL, U+FFFD and control/format characters, whitespace -> ' ', spaces
//        around CJK ideographs, accents stripped (NFD, then non-spacing marks dropped), lower case
//     -> BertPreTokenizer: split on whitespace, every punctuation character a word of its own
//     -> WordPiece: greedy longest match from the left, "##" before a word's later pieces; a word
//        longer than max_input_chars_per_word, or one that cannot be covered, becomes [UNK]
//     -> [CLS] pieces [SEP], truncated to max_length tokens in all.
// Read from tokenizer.json (model WordPiece, normalizer BertNormalizer, pre-tokenizer
// BertPreTokenizer, post-processor TemplateProcessing or BertProcessing), or from vocab.txt with the
// options of tokenizer_config.json, as transformers' BertTokenizerFast builds it from them.
//
// Character classes follow the reference's tables: its general categories date from an older
// Unicode than ICU's, so characters assigned after kReferenceUnicodeMajor count as plain letters
// (neither control, mark nor punctuation), which is what the reference does with them.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tttlab/lm/added_tokens.hpp"

namespace tttlab::encoder {

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // the reference's default: follows lowercase
  bool lowercase = true;
};

class WordPieceTokenizer {
 public:
  // tokenizer.json if the folder has one, else vocab.txt (+ tokenizer_config.json if present).
  static WordPieceTokenizer from_model_dir(const std::filesystem::path& dir);
  static WordPieceTokenizer from_tokenizer_json(const std::filesystem::path& tokenizer_json);
  static WordPieceTokenizer from_json_text(const std::string& json_text, const std::string& where);
  static WordPieceTokenizer from_vocab_txt(const std::filesystem::path& vocab_txt, const BertNormalizerOptions& options);
  ~WordPieceTokenizer();
  WordPieceTokenizer(WordPieceTokenizer&&) noexcept;
  WordPieceTokenizer& operator=(WordPieceTokenizer&&) noexcept;

  // [CLS] pieces [SEP]; max_length > 0 keeps the first max_length - 2 pieces. Text that is not valid
  // UTF-8 is an InputError naming `what`.
  std::vector<int64_t> encode(const std::string& text, int64_t max_length = 0, const std::string& what = "text") const;

  // The steps, for tests and `tttlab embed --show-tokens`.
  std::string normalize(const std::string& text) const;
  std::vector<std::string> pre_tokenize(const std::string& normalized) const;

  int64_t vocab_size() const;  // largest id + 1
  std::string id_to_token(int64_t id) const;
  int64_t token_to_id(const std::string& token) const;  // -1 if absent
  int64_t pad_id() const;
  const BertNormalizerOptions& normalizer_options() const;

 private:
  WordPieceTokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Unicode major version of the reference's character tables (see above).
inline constexpr int kReferenceUnicodeMajor = 8;

// Whether `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(const std::string& bytes);

}  // namespace tttlab::encoder
