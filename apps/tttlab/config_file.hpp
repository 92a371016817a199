#pragma once
// `--config FILE`: a TOML file whose keys are a subcommand's long flag names (without dashes),
// e.g. `k = 100`, `data = "fashion-mnist"`, `quiet = true`; keys may also sit in a table named
// after the subcommand ([run], or [sae] / [train] for `sae train`). The file's settings are placed
// before the command-line flags, and every option keeps the last value it is given, so flags
// override the file.
// (CLI11's own config support does not reach subcommands in the Debian version, hence this pass.)
#include <cstddef>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace tttlab::cli {

// The command a command line names, e.g. `sae train` in `tttlab sae train --k 4`: `app` is its
// CLI::App, `words` how many arguments after the program name spell it, `path` its words joined.
struct CommandLineCommand {
  const CLI::App* app = nullptr;
  size_t words = 0;
  std::string path;
};

// args with `--config FILE` (or `--config=FILE`) replaced by `--key=value` arguments from FILE,
// inserted right after the command's words. Throws InputError for a missing or malformed file, and
// for a key that is not an option of `command` (naming the file and the key).
std::vector<std::string> expand_config_file(std::vector<std::string> args, const CommandLineCommand& command);

}  // namespace tttlab::cli
