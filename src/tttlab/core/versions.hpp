#pragma once
// Versions of tttlab and the libraries it was built with, for results.json and `--version`.
#include <map>
#include <string>

namespace tttlab {

std::map<std::string, std::string> library_versions();
std::string version_line();  // "tttlab 0.1.0 (LibTorch 1.13.0, FAISS 1.7.3)"

}  // namespace tttlab
