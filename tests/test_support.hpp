#pragma once
// Shared test helpers: a self-removing temporary folder, raw byte files, and checks that a call
// throws tttlab::InputError whose message contains given pieces.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <ftw.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include "test_paths.hpp"

#include "tttlab/core/error.hpp"
#include "tttlab/io/npy.hpp"

namespace tttlab::test {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("tttlab-test-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(counter++) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  // POSIX nftw rather than std::filesystem::remove_all: PyTorch's wheels export their own copy of
  // remove_all from libtorch.so, which crashed (null call) when the GPU tests linked against it.
  ~TempDir() {
    ::nftw(
        path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << p;
}

inline std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs `fn`, expects an InputError, and returns its message (empty string if none was thrown).
inline std::string input_error_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const tttlab::InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected tttlab::InputError, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected tttlab::InputError, nothing was thrown";
  return "";
}

// Expects `fn` to throw InputError, its message on one line, starting with `starts_with` and
// containing every piece of `pieces`.
inline void expect_input_error(const std::function<void()>& fn, const std::string& starts_with,
                               std::initializer_list<std::string> pieces) {
  const std::string msg = input_error_message(fn);
  if (msg.empty()) return;
  EXPECT_EQ(msg.rfind(starts_with, 0), 0u) << "message should start with '" << starts_with << "': " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "message should be one line: " << msg;
  for (const std::string& piece : pieces) {
    EXPECT_NE(msg.find(piece), std::string::npos) << "message should contain '" << piece << "': " << msg;
  }
}

// Expects `f` to throw InputError with `needle` somewhere in its message.
template <typename F>
void expect_input_error(F&& f, const std::string& needle) {
  const std::string msg = input_error_message(std::forward<F>(f));
  if (msg.empty()) return;
  EXPECT_NE(msg.find(needle), std::string::npos) << "message should contain '" << needle << "': " << msg;
}

// The tttlab binary (TTTLAB_BINARY, defined for every test program) run with `args`; its stdout and
// stderr go through files in `scratch`.
struct CliRun {
  int code;
  std::string out, err;
};

inline CliRun run_tttlab(const std::string& args, const std::filesystem::path& scratch) {
  const auto out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  const std::string cmd = std::string(TTTLAB_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  return {WEXITSTATUS(status), read_bytes(out), read_bytes(err)};
}

// An embedding folder of Gaussian blobs in 8-D whose labels are the XOR of the signs of the first two
// coordinates: a weak global linear head, strong local heads.
inline void write_xor_blobs(const std::filesystem::path& dir, int64_t n_train, int64_t n_test) {
  std::filesystem::create_directories(dir);
  torch::manual_seed(3);
  auto make = [](int64_t n) {
    auto x = torch::randn({n, 8});
    x.slice(1, 0, 2).mul_(3.0);
    const auto y = (x.select(1, 0).gt(0).logical_xor(x.select(1, 1).gt(0))).to(torch::kLong);
    return std::make_pair(x, y);
  };
  auto [xtr, ytr] = make(n_train);
  auto [xte, yte] = make(n_test);
  write_npy(dir / "train_features.npy", xtr);
  write_npy(dir / "train_labels.npy", ytr);
  write_npy(dir / "test_features.npy", xte);
  write_npy(dir / "test_labels.npy", yte);
}

}  // namespace tttlab::test
