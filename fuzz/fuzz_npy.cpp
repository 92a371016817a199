// Fuzz target: tttlab::read_npy on a .npy file holding the input.
#include "fuzz_support.hpp"
#include "tttlab/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto path = tttlab::fuzz::scratch_dir() / "input.npy";
  tttlab::fuzz::write_bytes(path, data, size);
  tttlab::fuzz::expect_success_or_input_error([&] { (void)tttlab::read_npy(path); });
  return 0;
}
