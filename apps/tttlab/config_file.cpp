#include "config_file.hpp"

#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"

namespace tttlab::cli {

namespace {

std::string value_text(const toml::node& node, const std::string& file, const std::string& key) {
  if (const auto* a = node.as_array()) {  // a list option: comma-separated, e.g. k = [10, 50] -> 10,50
    std::string joined;
    for (const auto& item : *a) {
      require_input(!item.is_array() && !item.is_table(), "{}: key '{}' must be a list of numbers or strings", file,
                    printable(key));
      joined += (joined.empty() ? "" : ",") + value_text(item, file, key);
    }
    return joined;
  }
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) return fmt::format("{}", f->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  throw_input_error("{}: key '{}' must be a string, number or boolean", file, printable(key));
}

bool names_the_command(const std::string& table, const CommandLineCommand& command) {
  std::istringstream words(command.path);
  std::string word;
  while (words >> word) {
    if (word == table) return true;
  }
  return false;
}

// `prefix`: a table of option families, e.g. [tune] k = [...] is --tune-k.
void append_table(const toml::table& table, const std::string& file, const CommandLineCommand& command,
                  std::vector<std::string>& out, const std::string& prefix = "") {
  for (const auto& [key, node] : table) {
    const std::string name = prefix + std::string(key.str());
    if (const auto* sub = node.as_table()) {
      // A table named after a flag, e.g. [tune] for --tune: it turns the flag on, and its keys are the
      // flag's family (k = [...] is --tune-k). TOML forbids `tune = true` beside a [tune] table.
      if (const CLI::Option* flag = command.app->get_option_no_throw("--" + name);
          prefix.empty() && flag != nullptr && flag->get_expected_max() == 0) {
        out.push_back("--" + name);
        append_table(*sub, file, command, out, name + "-");
        continue;
      }
      require_input(prefix.empty() && names_the_command(name, command),
                    "{}: table [{}] does not belong to the '{}' command", file, printable(name), command.path);
      append_table(*sub, file, command, out);
      continue;
    }
    // Checked here, where the file is known: CLI11 would only report an unexpected `--name=value`.
    require_input(command.app->get_option_no_throw("--" + name) != nullptr,
                  "{}: unknown key '{}' (no option --{} in `tttlab {}`; see `tttlab {} --help`)", file, printable(name),
                  printable(name), command.path, command.path);
    out.push_back(fmt::format("--{}={}", name, value_text(node, file, name)));
  }
}

}  // namespace

std::vector<std::string> expand_config_file(std::vector<std::string> args, const CommandLineCommand& command) {
  std::string config;
  size_t position = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--config") {
      require_input(i + 1 < args.size(), "--config needs a file name");
      config = args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      position = i;
      break;
    }
    if (args[i].rfind("--config=", 0) == 0) {
      config = args[i].substr(9);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
      position = i;
      break;
    }
  }
  if (config.empty() && position == 0) return args;
  require_input(!config.empty(), "--config needs a file name");
  require_input(std::filesystem::is_regular_file(config), "{}: config file not found", config);
  require_input(command.words >= 1 && command.app != nullptr,
                "--config goes after a command, e.g. `tttlab run --config {}`", config);
  toml::table table;
  try {
    table = toml::parse_file(config);
  } catch (const toml::parse_error& e) {
    throw_input_error("{}:{}:{}: {}", config, e.source().begin.line, e.source().begin.column,
                      printable(e.description()));
  }
  std::vector<std::string> from_file;
  append_table(table, config, command, from_file);
  const auto after_command = args.begin() + static_cast<std::ptrdiff_t>(1 + command.words);
  args.insert(after_command, from_file.begin(), from_file.end());
  return args;
}

std::vector<std::string> expand_preset(std::vector<std::string> args, const CommandLineCommand& command,
                                       const PresetOptionsFn& options_of) {
  std::string name;
  bool found = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--preset" && i + 1 < args.size()) {
      name = args[i + 1];
      found = true;
    } else if (args[i].rfind("--preset=", 0) == 0) {
      name = args[i].substr(9);
      found = true;
    }
  }
  if (!found || command.app == nullptr || command.app->get_option_no_throw("--preset") == nullptr) return args;
  std::vector<std::string> inserted, skipped;
  for (const auto& [key, value] : options_of(name)) {
    if (command.app->get_option_no_throw("--" + key) == nullptr) {
      skipped.push_back(key);
      continue;
    }
    inserted.push_back(fmt::format("--{}={}", key, value));
  }
  if (!skipped.empty()) {
    std::string list;
    for (const auto& k : skipped) list += (list.empty() ? "--" : ", --") + k;
    fmt::print(stderr, "note: preset '{}' also sets {}, which `tttlab {}` does not take (it sets them itself)\n", name,
               list, command.path);
  }
  const auto after_command = args.begin() + static_cast<std::ptrdiff_t>(1 + command.words);
  args.insert(after_command, inserted.begin(), inserted.end());
  return args;
}

}  // namespace tttlab::cli
