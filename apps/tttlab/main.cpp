// tttlab: test-time training of linear heads on nearest neighbours, against global baselines.
// Exit codes: 0 success, 2 bad input or usage (one-line message), 1 any other failure.
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "commands.hpp"
#include "config_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/versions.hpp"

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tttlab: test-time training (TTT) on nearest neighbours vs. a global head.\n"
               "Run `tttlab <command> --help` for a command's options."};
  app.set_version_flag("--version", tttlab::version_line());
  app.require_subcommand(1);
  tttlab::cli::add_run_command(app);
  tttlab::cli::add_model_command(app);
  tttlab::cli::add_lm_command(app);
  tttlab::cli::add_theory_command(app);
  tttlab::cli::add_sae_command(app);
  tttlab::cli::add_reproduce_table1_command(app);
  tttlab::cli::add_scale_command(app);
  try {
    // --config FILE becomes --key=value arguments before the command line's own flags.
    const std::vector<std::string> args = tttlab::cli::expand_config_file(argc, argv);
    std::vector<const char*> c_args;
    for (const auto& a : args) c_args.push_back(a.c_str());
    app.parse(static_cast<int>(c_args.size()), c_args.data());
    return 0;
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive as "errors" with exit code 0: let CLI11 print them.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    fmt::print(stderr, "error: {}\n", first_line(e.what()));
    return 2;
  } catch (const tttlab::InputError& e) {
    fmt::print(stderr, "error: {}\n", first_line(e.what()));
    return 2;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "error: out of memory (try fewer --points-per-batch or a smaller --memory-budget-mb)\n");
    return 1;
  } catch (const c10::Error& e) {
    fmt::print(stderr, "error: {}\n", first_line(e.what_without_backtrace()));
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", first_line(e.what()));
    return 1;
  }
}
