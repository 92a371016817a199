// Fuzz target: tttlab::lm::BpeTokenizer::from_json_text on the input as tokenizer.json text; a
// tokenizer that loads must also encode and decode a short mixed text (its regexes, normalizers and
// merges all come from the file).
#include "fuzz_support.hpp"
#include "tttlab/lm/bpe_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  tttlab::fuzz::expect_success_or_input_error([&] {
    const auto tokenizer = tttlab::lm::BpeTokenizer::from_json_text(text, "tokenizer.json");
    const auto ids = tokenizer.encode("Hello, world! 12 caf\xc3\xa9 <|endoftext|>\n");
    (void)tokenizer.decode(ids);
  });
  return 0;
}
