// Pretraining a small decoder from scratch (studies/lm_pretrain.hpp): on a repetitive corpus the
// validation bits per byte fall far below the untrained model's; the run is reproducible from its
// seed; the folder it writes loads as a checkpoint with its tokenizer; bad input is one line.
#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lm/lm_fixtures.hpp"
#include "test_support.hpp"
#include "tttlab/lm/hf_checkpoint.hpp"
#include "tttlab/studies/lm_pretrain.hpp"
#include "tttlab/studies/lm_studies.hpp"

using namespace tttlab;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Sentences from a small grammar: regular enough for a 2-layer model to learn in a few dozen steps.
void write_corpus(const fs::path& file, int64_t documents, uint64_t seed) {
  const char* subjects[] = {"the cat", "a dog", "the old man", "my sister", "our teacher"};
  const char* verbs[] = {"sees", "likes", "finds", "carries", "paints"};
  const char* objects[] = {"the red ball.", "a small house.", "the green tree.", "a long letter.", "the blue door."};
  std::string out;
  uint64_t s = seed;
  auto next = [&s] { return (s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
  for (int64_t d = 0; d < documents; ++d) {
    std::string text;
    for (int i = 0; i < 12; ++i) {
      text += std::string(i ? " " : "") + subjects[next() % 5] + " " + verbs[next() % 5] + " " + objects[next() % 5];
    }
    out += json{{"text", text}, {"domain", "grammar"}}.dump() + "\n";
  }
  test::write_bytes(file, out);
}

studies::LmPretrainConfig small_run(const test::TempDir& dir) {
  studies::LmPretrainConfig c;
  c.size = "xs";
  c.tokenizer = test::lm_fixture("tokenizer.json").string();
  c.train_file = (dir / "train.jsonl").string();
  c.val_file = (dir / "val.jsonl").string();
  c.steps = 40;
  c.batch = 8;
  c.seq_len = 64;
  c.lr = 1e-2;
  c.device = "cpu";
  c.out = (dir / "model").string();
  return c;
}

}  // namespace

TEST(Pretrain, LearnsTheCorpusAndWritesALoadableCheckpoint) {
  const test::TempDir dir;
  write_corpus(dir / "train.jsonl", 60, 1);
  write_corpus(dir / "val.jsonl", 6, 2);
  const auto cfg = small_run(dir);
  const auto r = studies::run_lm_pretrain(cfg);
  std::printf("pretrain xs: %lld parameters, val bits per byte %.3f -> %.3f, loss %.3f -> %.3f\n",
              static_cast<long long>(r.parameters), r.val_bpb_before, r.val_bpb_after, r.losses.front(),
              r.losses.back());
  // Untrained, the model spreads its mass over 1,203 tokens (about 10 bits a token); trained, the
  // grammar leaves a few choices per word.
  EXPECT_GT(r.val_bpb_before, 2.0);
  EXPECT_LT(r.val_bpb_after, 0.5 * r.val_bpb_before);
  EXPECT_LT(r.losses.back(), 0.5 * r.losses.front());
  EXPECT_EQ(r.val_documents, 6);
  EXPECT_EQ(r.tokens_seen, 40 * 8 * 64);

  // The folder is a checkpoint the LM commands load with its tokenizer, and gives the same scores.
  studies::LmModelSpec spec;
  spec.model = cfg.out;
  spec.device = "cpu";
  auto loaded = studies::load_lm(spec);
  EXPECT_EQ(loaded.model->config.architecture, lm::DecoderArchitecture::llama);
  EXPECT_EQ(loaded.model->config.hidden_size, 64);
  const json results = json::parse(test::read_bytes(dir / "model" / "results.json"));
  EXPECT_EQ(results.at("study"), "lm pretrain");
  EXPECT_DOUBLE_EQ(results.at("val").at("bits_per_byte_after").get<double>(), r.val_bpb_after);
  EXPECT_LE(results.at("loss_curve").size(), 200u);

  // The same seed gives the same run; another seed another one.
  auto again = cfg;
  again.out = (dir / "again").string();
  const auto r2 = studies::run_lm_pretrain(again);
  EXPECT_EQ(r2.losses, r.losses);
  again.out = (dir / "other").string();
  again.seed = 5;
  EXPECT_NE(studies::run_lm_pretrain(again).losses, r.losses);
}

TEST(Pretrain, FamilySizesGrow) {
  int64_t previous = 0;
  for (const auto& size : studies::llama_family_sizes()) {
    const auto c = studies::llama_family_shape(size, 1216, 0, 256);
    auto model = lm::make_random_decoder(c, 0);
    int64_t n = 0;
    for (const auto& p : model->parameters()) n += p.numel();
    EXPECT_GT(n, 1.5 * static_cast<double>(previous)) << size;
    EXPECT_EQ(c.head_dim(), 32) << size;
    previous = n;
  }
}

TEST(Pretrain, BadInputIsOneLine) {
  const test::TempDir dir;
  write_corpus(dir / "train.jsonl", 4, 1);
  write_corpus(dir / "val.jsonl", 2, 2);
  auto cfg = small_run(dir);
  auto expect = [&](studies::LmPretrainConfig c, const std::string& needle) {
    test::expect_input_error([&] { studies::run_lm_pretrain(c); }, needle);
  };
  auto c = cfg;
  c.size = "huge";
  expect(c, "--size huge");
  c = cfg;
  c.config_json = test::lm_fixture("tied/config.json").string();
  expect(c, "exactly one of --size and --config-json");
  c = cfg;
  c.seq_len = 5000;  // the four documents hold about 1,500 tokens
  expect(c, "fewer than one window");
  c = cfg;
  c.train_file = (dir / "missing.jsonl").string();
  expect(c, "missing.jsonl");
  c = cfg;
  test::write_bytes(dir / "bad.jsonl", "{\"text\": \"no domain\"}\n");
  c.val_file = (dir / "bad.jsonl").string();
  expect(c, "domain");
  c = cfg;
  fs::create_directories(dir / "model");
  test::write_bytes(dir / "model" / "model.safetensors.index.json", "{}");
  expect(c, "model.safetensors.index.json");
  c = cfg;
  c.out = (dir / "fresh").string();
  c.steps = 0;
  expect(c, "--steps 0");
  EXPECT_FALSE(fs::exists(dir / "fresh"));
}
