// Fuzz target: the CLI's --config pass (apps/tttlab/config_file.cpp) on a TOML file holding the input,
// as `tttlab run --config FILE --k 5` calls it. The command is a small stand-in for `tttlab run` with a
// few of its options (the pass only asks the command which long options exist), so the target does not
// link every subcommand.
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "config_file.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto path = tttlab::fuzz::scratch_dir() / "config.toml";
  static CLI::App app{"tttlab"};
  static CLI::App* run = [] {
    static int k = 0, steps = 0;
    static double lr = 0;
    static std::string data_spec, out;
    static bool quiet = false;
    CLI::App* cmd = app.add_subcommand("run");
    cmd->add_option("--k", k);
    cmd->add_option("--steps", steps);
    cmd->add_option("--lr", lr);
    cmd->add_option("--data", data_spec);
    cmd->add_option("--out", out);
    cmd->add_flag("--quiet", quiet);
    return cmd;
  }();
  tttlab::fuzz::write_bytes(path, data, size);
  const std::vector<std::string> args = {"tttlab", "run", "--config", path.string(), "--k", "5"};
  const tttlab::cli::CommandLineCommand command{run, 1, "run"};
  tttlab::fuzz::expect_success_or_input_error([&] { (void)tttlab::cli::expand_config_file(args, command); });
  return 0;
}
