// Fuzz target: tttlab::read_safetensors on a .safetensors file holding the input, then
// require_tensor as the head loader calls it (its message lists the file's tensor names).
#include "fuzz_support.hpp"
#include "tttlab/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto path = tttlab::fuzz::scratch_dir() / "input.safetensors";
  tttlab::fuzz::write_bytes(path, data, size);
  tttlab::fuzz::expect_success_or_input_error([&] {
    const tttlab::SafetensorsFile file = tttlab::read_safetensors(path);
    (void)tttlab::require_tensor(file, path, "weight", {-1, -1});
  });
  return 0;
}
