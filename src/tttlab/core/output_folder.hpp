#pragma once
// Output folders are checked before any work starts: a run that trains for an hour and then cannot
// write its results has wasted the hour.
#include <filesystem>
#include <string>

namespace tttlab {

// "" when `path` can serve as an output folder: an existing writable folder, or a path whose nearest
// existing ancestor is a writable folder (the folder is not created here). Otherwise what is wrong,
// in one line that names the path, e.g. "results.json is an existing file, not a folder".
std::string output_folder_problem(const std::filesystem::path& path);

// InputError with output_folder_problem's message when there is one.
void require_output_folder(const std::filesystem::path& path);

}  // namespace tttlab
