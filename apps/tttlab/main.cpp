// tttlab: test-time training of linear heads on nearest neighbours, against global baselines.
// Exit codes: 0 success, 2 bad input or usage (one-line message), 1 any other failure.
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "config_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/studies/presets.hpp"

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// The command the leading words of the command line name (`sae train`). Where a command needs a
// subcommand, the next word must be one of its subcommands: CLI11 would answer a mistyped one with
// "A subcommand is required", or with --help print the parent's help and exit 0, never naming it.
tttlab::cli::CommandLineCommand find_command(const CLI::App& app, const std::vector<std::string>& args) {
  tttlab::cli::CommandLineCommand command;
  const CLI::App* current = &app;
  for (size_t i = 1; i < args.size() && !args[i].empty() && args[i][0] != '-'; ++i) {
    if (current->get_require_subcommand_min() == 0) break;  // the word is this command's business
    std::vector<std::string> names;
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : current->get_subcommands([](const CLI::App*) { return true; })) {
      names.push_back(sub->get_name());
      if (sub->check_name(args[i])) next = sub;
    }
    const std::string where = command.path.empty() ? "tttlab" : "tttlab " + command.path;
    tttlab::require_input(next != nullptr, "unknown command '{}' for `{}`; the commands are: {}", args[i], where,
                          fmt::join(names, ", "));
    current = next;
    command.app = next;
    command.words = i;
    command.path += (command.path.empty() ? "" : " ") + args[i];
  }
  return command;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tttlab: test-time training (TTT) on nearest neighbours vs. a global head.\n"
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
  tttlab::cli::add_presets_command(app);
  tttlab::cli::add_embed_command(app);
  try {
    std::vector<std::string> args(argv, argv + argc);
    const tttlab::cli::CommandLineCommand command = find_command(app, args);
    // --config FILE becomes --key=value arguments before the command line's own flags.
    args = tttlab::cli::expand_config_file(std::move(args), command);
    // --preset NAME becomes --key=value arguments before both (the file and the flags override it).
    args = tttlab::cli::expand_preset(std::move(args), command, [](const std::string& name) {
      return tttlab::preset_options(tttlab::study_preset(name));
    });
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
