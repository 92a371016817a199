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

void append_table(const toml::table& table, const std::string& file, const CommandLineCommand& command,
                  std::vector<std::string>& out) {
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    if (const auto* sub = node.as_table()) {
      require_input(names_the_command(name, command), "{}: table [{}] does not belong to the '{}' command", file,
                    printable(name), command.path);
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

}  // namespace tttlab::cli
