#pragma once
// Error kinds that map to the CLI's exit codes (docs/design.md, "Exit codes"): InputError -> 2 (bad input or usage),
// anything else -> 1. Messages are one line and name the file, the field and what was expected.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace tttlab {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void throw_input_error(fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format(f, std::forward<Args>(args)...));
}

// Checks a user-facing precondition; on failure throws InputError with the formatted message.
template <typename... Args>
void require_input(bool ok, fmt::format_string<Args...> f, Args&&... args) {
  if (!ok) throw InputError(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace tttlab
