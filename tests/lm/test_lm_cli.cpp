// `tttlab lm` end to end on the fixture checkpoint: info, tokenize, score (results.json), lora
// (bits per byte drop on the training text, reset restores the base), and bad input -> exit 2.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lm/lm_fixtures.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using tttlab::test::CliRun;

class LmCli : public ::testing::Test {
 protected:
  CliRun tttlab(const std::string& args) { return tttlab::test::run_tttlab(args, dir_.path()); }
  std::string model_args() const {
    return "--model " + tttlab::test::lm_fixture("tied").string() + " --tokenizer " +
           tttlab::test::lm_fixture("tokenizer.json").string() + " --device cpu";
  }
  fs::path text_file(const std::string& name, const std::string& text) const {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  const tttlab::test::TempDir dir_;
};

const std::string kText =
    "The quick brown fox jumps over the lazy dog. It's 2026; we'll see.\n"
    "Καλημέρα κόσμε — 你好，世界! def f(x):\n    return x ** 2\n";

}  // namespace

TEST_F(LmCli, InfoAndTokenize) {
  CliRun r = tttlab("lm info --model " + tttlab::test::lm_fixture("sharded").string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("untied output embedding"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters: 285504"), std::string::npos) << r.out;
  r = tttlab("lm tokenize --tokenizer " + tttlab::test::lm_fixture("tokenizer.json").string() + " --decode 36,682,73");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Emoj\n");
  r = tttlab("lm tokenize --count --tokenizer " + tttlab::test::lm_fixture("tokenizer.json").string() + " --file " +
             text_file("t.txt", kText).string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(std::to_string(kText.size()) + " bytes"), std::string::npos) << r.out;
}

TEST_F(LmCli, InitWritesACheckpointThatLoadsBack) {
  const auto out = dir_ / "random";
  CliRun r = tttlab("lm init --config-json " + tttlab::test::lm_fixture("sharded/config.json").string() + " --out " +
                    out.string() + " --seed 4");
  ASSERT_EQ(r.code, 0) << r.err;
  r = tttlab("lm info --model " + out.string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("parameters: 285504"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rope theta 1000000"), std::string::npos) << r.out;
}

TEST_F(LmCli, ScoreWritesBitsPerByte) {
  const auto out = dir_ / "score";
  const CliRun r = tttlab("lm score " + model_args() + " --file " + text_file("t.txt", kText).string() +
                          " --context 16 --stride 8 --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = json::parse(tttlab::test::read_bytes(out / "results.json"));
  const auto& res = j["result"];
  EXPECT_EQ(res["bytes"].get<int64_t>(), static_cast<int64_t>(kText.size()));
  EXPECT_GT(res["tokens_scored"].get<int64_t>(), 20);
  const double bpb = res["bits_per_byte"].get<double>();
  EXPECT_NEAR(bpb, res["nll_nats"].get<double>() / std::log(2.0) / static_cast<double>(kText.size()), 1e-9);
  EXPECT_GT(bpb, 0);
}

TEST_F(LmCli, LoraLowersBitsPerByteAndResets) {
  const auto out = dir_ / "lora";
  const CliRun r =
      tttlab("lm lora " + model_args() + " --train " + text_file("t.txt", kText).string() +
             " --rank 4 --lr 0.003 --epochs 5 --max-length 64 --context 64 --stride 32 --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = json::parse(tttlab::test::read_bytes(out / "results.json"));
  const double before = j["before"]["bits_per_byte"].get<double>(), after = j["after"]["bits_per_byte"].get<double>();
  EXPECT_LT(after, before);
  EXPECT_DOUBLE_EQ(j["after_reset"]["bits_per_byte"].get<double>(), before);
  EXPECT_GE(j["losses"].size(), 5u);
}

TEST_F(LmCli, BadInputExitsTwo) {
  const auto text = text_file("t.txt", kText).string();
  for (const auto& [args, needle] : std::vector<std::pair<std::string, std::string>>{
           {"lm score " + model_args() + " --file /nonexistent.txt", "nonexistent.txt"},
           {"lm score " + model_args() + " --file " + text + " --stride 0", "stride"},
           {"lm score " + model_args() + " --file " + text + " --dtype float16", "float16"},
           {"lm score --model /nowhere --file " + text, "nowhere"},
           {"lm lora " + model_args() + " --train " + text + " --rank 0", "rank"},
           {"lm tokenize --tokenizer /nowhere/tokenizer.json --text hi", "tokenizer.json"},
           {"lm score " + model_args() + " --file " + text_file("empty.txt", "").string(), "empty"}}) {
    const CliRun r = tttlab(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
  }
}

// The fixture model has 256 positions (max_position_embeddings). A longer window given on the command
// line is refused before scoring; the default window (1024) is lowered to fit.
TEST_F(LmCli, ContextLongerThanTheModelsPositionsExitsTwo) {
  const auto text = text_file("t.txt", kText).string();
  for (const std::string args : {"lm score " + model_args() + " --file " + text + " --context 1024",
                                 "lm lora " + model_args() + " --train " + text + " --rank 2 --context 257",
                                 "lm lora " + model_args() + " --train " + text + " --rank 2 --max-length 300"}) {
    const CliRun r = tttlab(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("longer than the 256 positions"), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const auto out = dir_ / "default_context";
  const CliRun r = tttlab("lm score " + model_args() + " --file " + text + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = json::parse(tttlab::test::read_bytes(out / "results.json"));
  EXPECT_EQ(j["config"]["context"], 256);
  EXPECT_EQ(j["config"]["stride"], 128);
}
