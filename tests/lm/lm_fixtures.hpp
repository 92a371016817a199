#pragma once
// The reference fixtures of tests/fixtures/lm (made by make_fixtures.py with transformers and tokenizers).
#include <filesystem>
#include <string>

namespace tttlab::test {

inline std::filesystem::path lm_fixture(const std::string& name) {
  return std::filesystem::path(TTTLAB_SOURCE_DIR) / "tests" / "fixtures" / "lm" / name;
}

}  // namespace tttlab::test
