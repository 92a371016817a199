#pragma once
// `--config FILE`: a TOML file whose keys are a subcommand's long flag names (without dashes),
// e.g. `k = 100`, `data = "fashion-mnist"`, `quiet = true`; keys may also sit in a table named
// after the subcommand ([run]). The file's settings are placed before the command-line flags, and
// every option keeps the last value it is given, so flags override the file.
// (CLI11's own config support does not reach subcommands in the Debian version, hence this pass.)
#include <string>
#include <vector>

namespace tttlab::cli {

// argv with `--config FILE` (or `--config=FILE`) replaced by `--key=value` arguments from FILE,
// inserted right after the subcommand name. Throws InputError for a missing or malformed file.
std::vector<std::string> expand_config_file(int argc, const char* const* argv);

}  // namespace tttlab::cli
