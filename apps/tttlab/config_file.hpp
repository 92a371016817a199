#pragma once
// `--config FILE`: a TOML file whose keys are a subcommand's long flag names (without dashes),
// e.g. `k = 100`, `data = "fashion-mnist"`, `quiet = true`; keys may also sit in a table named
// after the subcommand ([run], or [sae] / [train] for `sae train`). A table named after a flag, e.g.
// [tune], turns the flag on and holds its family of options (k = [10, 50] is --tune-k=10,50). The file's settings are placed
// before the command-line flags, and every option keeps the last value it is given, so flags
// override the file.
// (CLI11's own config support does not reach subcommands in the Debian version, hence this pass.)
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
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

// `--preset NAME` (the last one given, on the command line or from the config file): the preset's
// (option, value) pairs from options_of(NAME) become --key=value arguments right after the
// command's words, before the config file's and the flags, so both override the preset. Options the
// command does not have are left out with a note on stderr. options_of throws for an unknown name.
using PresetOptionsFn = std::function<std::vector<std::pair<std::string, std::string>>(const std::string&)>;
std::vector<std::string> expand_preset(std::vector<std::string> args, const CommandLineCommand& command,
                                       const PresetOptionsFn& options_of);

}  // namespace tttlab::cli
