#include "tttlab/core/output_folder.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"

namespace tttlab {

namespace fs = std::filesystem;

namespace {

bool writable_folder(const fs::path& dir) { return ::access(dir.c_str(), W_OK | X_OK) == 0; }

}  // namespace

std::string output_folder_problem(const fs::path& path) {
  if (path.empty()) return "";
  const std::string shown = printable(path.string());
  std::error_code ec;
  if (fs::exists(path, ec)) {
    if (!fs::is_directory(path, ec)) return fmt::format("{} is an existing file, not a folder", shown);
    if (!writable_folder(path)) return fmt::format("{} is a folder this user cannot write to", shown);
    return "";
  }
  // The nearest existing ancestor must be a folder we may create entries in.
  fs::path ancestor = fs::absolute(path, ec).parent_path();
  while (!ancestor.empty() && !fs::exists(ancestor, ec)) {
    if (ancestor == ancestor.parent_path()) break;
    ancestor = ancestor.parent_path();
  }
  if (!fs::is_directory(ancestor, ec)) {
    return fmt::format("{} cannot be created: {} is a file, not a folder", shown, printable(ancestor.string()));
  }
  if (!writable_folder(ancestor)) {
    return fmt::format("{} cannot be created: this user cannot write to {}", shown, printable(ancestor.string()));
  }
  return "";
}

void require_output_folder(const fs::path& path) {
  const std::string problem = output_folder_problem(path);
  require_input(problem.empty(), "--out: {}", problem);
}

}  // namespace tttlab
