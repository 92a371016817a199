// `tttlab sae train` and `tttlab sae encode` end to end on a small embedding folder: the files and
// their shapes, resume through the CLI, and bad input (exit code 2, one line on stderr).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/io/npy.hpp"

namespace fs = std::filesystem;

namespace {

struct CliRun {
  int code;
  std::string out, err;
};

class SaeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = root_ / "emb";
    fs::create_directories(data_);
    torch::manual_seed(11);
    auto dict = torch::randn({16, 6});
    auto make = [&](int64_t n) {
      auto codes = torch::zeros({n, 16});
      codes.scatter_(1, torch::randint(0, 16, {n, 2}, torch::kLong), torch::rand({n, 2}) + 0.5);
      return std::make_pair(torch::matmul(codes, dict), torch::randint(0, 3, {n}, torch::kLong));
    };
    auto [xtr, ytr] = make(200);
    auto [xte, yte] = make(40);
    ytr[0] = 2;  // every class present
    tttlab::write_npy(data_ / "train_features.npy", xtr);
    tttlab::write_npy(data_ / "train_labels.npy", ytr);
    tttlab::write_npy(data_ / "test_features.npy", xte);
    tttlab::write_npy(data_ / "test_labels.npy", yte);
  }

  CliRun tttlab(const std::string& args) {
    const fs::path out = root_ / "stdout.txt", err = root_ / "stderr.txt";
    const std::string cmd = std::string(TTTLAB_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
    const int status = std::system(cmd.c_str());
    return {WEXITSTATUS(status), tttlab::test::read_bytes(out), tttlab::test::read_bytes(err)};
  }

  std::string train_args(const fs::path& out, const std::string& extra = "") {
    return "sae train --quiet --threads 1 --device cpu --data npy:" + data_.string() + " --out " + out.string() +
           " --latent-dim 24 --k 2 --k-start 6 --k-anneal-steps 10 --epochs 4 --batch-size 50 --lr 0.01"
           " --warmup-steps 4 " +
           extra;
  }

  void expect_exit_2(const std::string& args, const std::string& needle) {
    const CliRun r = tttlab(args);
    EXPECT_EQ(r.code, 2) << args << "\nstderr: " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err << "\nexpected: " << needle;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }

  const tttlab::test::TempDir dir_;
  const fs::path root_ = dir_.path();
  fs::path data_;
};

}  // namespace

TEST_F(SaeCli, TrainThenEncodeWritesTheFiles) {
  const fs::path sae = root_ / "sae", enc = root_ / "enc";
  const CliRun t = tttlab(train_args(sae));
  ASSERT_EQ(t.code, 0) << t.err;
  for (const char* f : {"sae.safetensors", "sae.json", "checkpoint.safetensors", "train_log.txt"}) {
    EXPECT_TRUE(fs::exists(sae / f)) << f;
  }
  const auto j = nlohmann::json::parse(tttlab::test::read_bytes(sae / "sae.json"));
  EXPECT_EQ(j["latent_dim"], 24);
  EXPECT_EQ(j["history"].size(), 4u);
  EXPECT_EQ(j["config"]["dropout"], 0.5);  // E.3's default

  const CliRun e = tttlab("sae encode --quiet --device cpu --sae " + sae.string() + " --data npy:" + data_.string() +
                          " --out " + enc.string());
  ASSERT_EQ(e.code, 0) << e.err;
  const auto idx = tttlab::read_npy(enc / "concepts" / "train_indices.npy");
  const auto val = tttlab::read_npy(enc / "concepts" / "train_values.npy");
  EXPECT_EQ(idx.sizes(), (std::vector<int64_t>{200, 2}));
  EXPECT_EQ(val.sizes(), (std::vector<int64_t>{200, 2}));
  EXPECT_GE(idx.min().item<int64_t>(), 0);
  EXPECT_LT(idx.max().item<int64_t>(), 24);
  EXPECT_GE(val.min().item<float>(), 0.0f);
  EXPECT_EQ(tttlab::read_npy(enc / "reconstructions" / "test_features.npy").sizes(), (std::vector<int64_t>{40, 6}));
  EXPECT_TRUE(torch::equal(tttlab::read_npy(enc / "reconstructions" / "train_labels.npy"),
                           tttlab::read_npy(data_ / "train_labels.npy")));
  const auto ej = nlohmann::json::parse(tttlab::test::read_bytes(enc / "encode.json"));
  EXPECT_GT(ej["splits"]["test"]["fve"].get<double>(), 0.0);
}

TEST_F(SaeCli, InterruptedThenResumedEqualsOneRun) {
  ASSERT_EQ(tttlab(train_args(root_ / "a")).code, 0);
  ASSERT_EQ(tttlab(train_args(root_ / "b", "--stop-after-epochs 1")).code, 0);
  EXPECT_FALSE(fs::exists(root_ / "b" / "sae.safetensors"));
  const CliRun r = tttlab(train_args(root_ / "b", "--resume"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(tttlab::test::read_bytes(root_ / "a" / "sae.safetensors"),
            tttlab::test::read_bytes(root_ / "b" / "sae.safetensors"));
}

TEST_F(SaeCli, BadInputExitsWith2) {
  expect_exit_2("sae train --quiet --data npy:" + (root_ / "nope").string() + " --out " + (root_ / "x").string(),
                "nope");
  expect_exit_2(train_args(root_ / "y", "--k 30"), "k=30");
  expect_exit_2(train_args(root_ / "y", "--dropout 1.5"), "dropout");
  expect_exit_2(train_args(root_ / "y", "--device nonsense"), "nonsense");
  expect_exit_2("sae train --quiet --data npy:" + data_.string(), "--out");
  expect_exit_2("sae encode --quiet --sae " + (root_ / "missing").string() + " --data npy:" + data_.string() +
                    " --out " + (root_ / "z").string(),
                "sae.json");
  // An SAE of the wrong width for the data.
  ASSERT_EQ(tttlab(train_args(root_ / "ok")).code, 0);
  const fs::path narrow = root_ / "narrow";
  fs::create_directories(narrow);
  for (const char* split : {"train", "test"}) {
    tttlab::write_npy(narrow / (std::string(split) + "_features.npy"), torch::randn({10, 4}));
    tttlab::write_npy(narrow / (std::string(split) + "_labels.npy"), torch::zeros({10}, torch::kLong));
  }
  expect_exit_2("sae encode --quiet --sae " + (root_ / "ok").string() + " --data npy:" + narrow.string() + " --out " +
                    (root_ / "z").string(),
                "width 4");
  EXPECT_FALSE(fs::exists(root_ / "z" / "encode.json"));
  // An SAE trained on raw features does not go with table1's unit-normalised ones.
  EXPECT_EQ(nlohmann::json::parse(tttlab::test::read_bytes(root_ / "ok" / "sae.json"))["input_normalized"], false);
  expect_exit_2("reproduce table1 --quiet --sae " + (root_ / "ok").string() + " --data npy:" + data_.string() +
                    " --k 5 --out " + (root_ / "t1").string(),
                "raw");
  EXPECT_FALSE(fs::exists(root_ / "t1" / "results.json"));
}

TEST_F(SaeCli, DeadWindowIsAnOptionAndReachesTheConfig) {
  const CliRun r = tttlab(train_args(root_ / "w", "--dead-window 300"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(tttlab::test::read_bytes(root_ / "w" / "sae.json"));
  EXPECT_EQ(j["config"]["dead_window"], 300);
  expect_exit_2(train_args(root_ / "w2", "--dead-window -1"), "dead window=-1");
}

// --resume needs only --data and --out: the settings come from the checkpoint, and the result is the
// uninterrupted run's.
TEST_F(SaeCli, ResumeTakesTheSettingsFromTheCheckpoint) {
  ASSERT_EQ(tttlab(train_args(root_ / "a", "--normalize --dead-window 300")).code, 0);
  ASSERT_EQ(tttlab(train_args(root_ / "b", "--normalize --dead-window 300 --stop-after-epochs 1")).code, 0);
  ASSERT_FALSE(fs::exists(root_ / "b" / "sae.safetensors"));
  const CliRun r = tttlab("sae train --quiet --threads 1 --device cpu --resume --data npy:" + data_.string() +
                          " --out " + (root_ / "b").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(tttlab::test::read_bytes(root_ / "a" / "sae.safetensors"),
            tttlab::test::read_bytes(root_ / "b" / "sae.safetensors"));
  const auto j = nlohmann::json::parse(tttlab::test::read_bytes(root_ / "b" / "sae.json"));
  EXPECT_EQ(j["input_normalized"], true);
  EXPECT_EQ(j["config"]["dead_window"], 300);
}

TEST_F(SaeCli, ResumeRefusesASettingThatDiffersFromTheCheckpoint) {
  ASSERT_EQ(tttlab(train_args(root_ / "b", "--stop-after-epochs 1")).code, 0);
  const std::string resume = "sae train --quiet --threads 1 --device cpu --resume --data npy:" + data_.string() +
                             " --out " + (root_ / "b").string();
  expect_exit_2(resume + " --lr 0.02", "--lr 0.02: the checkpoint");
  expect_exit_2(resume + " --wd 0.5", "weight_decay=0.0");
  expect_exit_2(resume + " --normalize", "--normalize: the checkpoint");
  EXPECT_FALSE(fs::exists(root_ / "b" / "sae.safetensors"));
  // The same value given again is no conflict.
  const CliRun r = tttlab(resume + " --lr 0.01 --k 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(root_ / "b" / "sae.safetensors"));
}
