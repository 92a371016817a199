// Fuzz target: tttlab::encoder::WordPieceTokenizer::from_json_text on the input as a BERT
// tokenizer.json; a tokenizer that loads must also encode a short mixed text, truncated and not (its
// normalizer options, vocabulary, continuation prefix and post-processor all come from the file).
#include "fuzz_support.hpp"
#include "tttlab/encoder/wordpiece_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  tttlab::fuzz::expect_success_or_input_error([&] {
    const auto tokenizer = tttlab::encoder::WordPieceTokenizer::from_json_text(text, "tokenizer.json");
    const std::string sample = "Hello, W\xc3\xb6rld! \xe4\xb8\xad\xe6\x96\x87 unaffable [MASK] 12";
    (void)tokenizer.encode(sample);
    (void)tokenizer.encode(sample, 4);
  });
  return 0;
}
