// Input files that broke the bad-input contract (exit code 2, one line on stderr naming the file, no
// results.json). Embedding folders whose values are valid numbers but absurd sizes (found by mutating
// valid files) ended the run with exit code 1 deep inside LibTorch or FAISS; a --config file could
// put raw control characters or invalid UTF-8 into the message.
#include <algorithm>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/io/npy.hpp"

namespace fs = std::filesystem;
using tttlab::test::CliRun;

namespace {

void expect_bad_input_run(const fs::path& root, const fs::path& data, const std::string& file,
                          const std::string& needle) {
  const fs::path out = root / "out";
  const CliRun r = tttlab::test::run_tttlab(
      "run --quiet --data npy:" + data.string() + " --out " + out.string() + " --k 20 --steps 5 --head-epochs 2", root);
  EXPECT_EQ(r.code, 2) << "stderr: " << r.err;
  EXPECT_EQ(r.err.rfind("error: " + (data / file).string(), 0), 0u) << "stderr should start with the file: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err << "\nexpected to mention: " << needle;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
  EXPECT_FALSE(fs::exists(out / "results.json"));
}

}  // namespace

TEST(CliInputFiles, HugeTrainingLabelExitsTwo) {
  const tttlab::test::TempDir dir;
  const fs::path data = dir.path() / "data";
  tttlab::test::write_xor_blobs(data, 200, 40);
  torch::Tensor y = tttlab::read_npy(data / "train_labels.npy");
  y[17] = 1'000'000'000'000'000'000;
  tttlab::write_npy(data / "train_labels.npy", y);
  expect_bad_input_run(dir.path(), data, "train_labels.npy", "C <= 1000000");
}

TEST(CliInputFiles, HugeFiniteFeatureExitsTwo) {
  const tttlab::test::TempDir dir;
  const fs::path data = dir.path() / "data";
  tttlab::test::write_xor_blobs(data, 200, 40);
  torch::Tensor x = tttlab::read_npy(data / "test_features.npy");
  x[3][5] = 1e30f;
  tttlab::write_npy(data / "test_features.npy", x);
  expect_bad_input_run(dir.path(), data, "test_features.npy", "too large for float32 squared distances");
}

// A TOML key written with escapes ("\u001b[2J" clears a terminal) reached stderr as raw bytes.
TEST(CliInputFiles, ConfigFileBytesInMessagesAreEscaped) {
  const tttlab::test::TempDir dir;
  const fs::path config = dir.path() / "bad.toml";
  tttlab::test::write_bytes(config, "\"k\\u001b[2J\" = { a = 1 }\n");
  CliRun r = tttlab::test::run_tttlab("run --config " + config.string(), dir.path());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("table [k\\x1b[2J] does not belong"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  // A syntax error at an invalid UTF-8 byte.
  tttlab::test::write_bytes(config, "k = \"\xff\xfe\"\n");
  r = tttlab::test::run_tttlab("run --config " + config.string(), dir.path());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err.find('\xff'), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}
