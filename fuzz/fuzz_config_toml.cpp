// Fuzz target: the CLI's --config pass (apps/tttlab/config_file.cpp) on a TOML file holding the input,
// as `tttlab run --config FILE --k 5` calls it.
#include "config_file.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto path = tttlab::fuzz::scratch_dir() / "config.toml";
  tttlab::fuzz::write_bytes(path, data, size);
  const char* argv[] = {"tttlab", "run", "--config", path.c_str(), "--k", "5"};
  tttlab::fuzz::expect_success_or_input_error([&] { (void)tttlab::cli::expand_config_file(6, argv); });
  return 0;
}
