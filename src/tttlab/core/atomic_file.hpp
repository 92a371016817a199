#pragma once
// Atomic output: write to a temporary file beside the target, then rename over it, so that a reader
// (or a crash) never sees a half-written file.
#include <filesystem>
#include <functional>
#include <ostream>
#include <string_view>

namespace tttlab {

// Calls `write` with a stream on a temporary file in the target's directory, flushes, checks the
// stream, and renames the file onto `target`. On any failure the temporary file is removed and the
// exception propagates; `target` is left as it was.
void write_file_atomically(const std::filesystem::path& target, const std::function<void(std::ostream&)>& write);

void write_text_atomically(const std::filesystem::path& target, std::string_view text);

}  // namespace tttlab
