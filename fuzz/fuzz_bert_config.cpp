// Fuzz target: tttlab::encoder::read_bert_config on a config.json holding the input.
#include "fuzz_support.hpp"
#include "tttlab/encoder/bert_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto path = tttlab::fuzz::scratch_dir() / "config.json";
  tttlab::fuzz::write_bytes(path, data, size);
  tttlab::fuzz::expect_success_or_input_error([&] { (void)tttlab::encoder::read_bert_config(path); });
  return 0;
}
