#pragma once
// Where the tests find the tttlab binary and the source tree. The paths are compiled into one file
// (test_paths.cpp) instead of every test, so that the other files' compile commands do not depend
// on where the checkout lies and a compiler cache serves them in any checkout.
namespace tttlab::test {
const char* tttlab_binary_path();
const char* tttlab_source_dir();
}  // namespace tttlab::test

#define TTTLAB_BINARY (::tttlab::test::tttlab_binary_path())
#define TTTLAB_SOURCE_DIR (::tttlab::test::tttlab_source_dir())
