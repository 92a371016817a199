#include "test_paths.hpp"

namespace tttlab::test {
// TTTLAB_BINARY_PATH and TTTLAB_SOURCE_PATH are defined for this file alone (CMakeLists.txt).
const char* tttlab_binary_path() { return TTTLAB_BINARY_PATH; }
const char* tttlab_source_dir() { return TTTLAB_SOURCE_PATH; }
}  // namespace tttlab::test
