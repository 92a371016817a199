#pragma once
// Added tokens of a Hugging Face tokenizer.json ([CLS], <|endoftext|>, ...): read from its
// "added_tokens" list, and cut out of raw text before normalisation (the reference matches tokens
// with normalized=false on the raw input), leftmost occurrence first, longest at a tie. Shared by the
// byte-level BPE tokenizer (decoders) and the WordPiece tokenizer (BERT encoders).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tttlab::lm {

struct AddedToken {
  int64_t id;
  std::string content;
  bool special = false;
  bool lstrip = false, rstrip = false;
};

// The "added_tokens" array of a tokenizer.json, sorted longest content first. Ids must lie in
// [0, max_id); an entry without an id or content is an InputError naming `where`.
std::vector<AddedToken> read_added_tokens(const nlohmann::json& added_json, int64_t max_id, const std::string& where);

// A piece of text between added tokens (token_id < 0), or one added token (token_id >= 0, text
// empty). lstrip / rstrip let a token swallow the ASCII whitespace beside it.
struct TextSegment {
  std::string text;
  int64_t token_id = -1;
};
std::vector<TextSegment> split_on_added_tokens(const std::string& text, const std::vector<AddedToken>& longest_first);

}  // namespace tttlab::lm
