// The BERT encoder and the sentence pipeline on small random models: checkpoints round-trip, padding
// and batching never change an embedding, pooling follows sentence-transformers' definitions, and
// every bad folder or text is a one-line InputError; and parity with the reference (transformers +
// sentence-transformers, tests/fixtures/bert): hidden states and pooled, normalised embeddings of
// 1,000+ sentences within 1e-5 in float32, for the fixture's model and, when fetched, the real
// all-MiniLM-L6-v2.
#include <gtest/gtest.h>

#include "encoder/encoder_fixtures.hpp"
#include "test_support.hpp"
#include "tttlab/encoder/sentence_encoder.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/io/safetensors.hpp"

using namespace tttlab;
using namespace tttlab::encoder;
using nlohmann::json;

namespace {

const std::vector<std::string> kTexts = {"the cat sat on the mat.", "a good movie!", "dogs running fast and slow",
                                         "hello world", "not very bad, not very good: the films",
                                         "zzz qqq xyz", "Café news, sports."};

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST(Bert, CheckpointRoundTripsThroughSafetensors) {
  test::TempDir dir;
  auto model = make_random_bert(test::tiny_bert_config(50), 7);
  save_bert(dir.path(), model);
  auto loaded = load_bert(dir.path());
  const auto ids = torch::randint(0, 50, {3, 9}, torch::kLong);
  const auto mask = torch::ones({3, 9}, torch::kLong);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(model->forward(ids, mask), loaded->forward(ids, mask)));
}

TEST(Bert, PaddingAndBatchingDoNotChangeEmbeddings) {
  test::TempDir dir;
  test::write_tiny_sentence_model(dir.path());
  auto one = SentenceEncoder::load(dir.path(), {torch::kCPU, torch::kFloat, 1});
  auto many = SentenceEncoder::load(dir.path(), {torch::kCPU, torch::kFloat, 4});
  const auto a = one.encode(kTexts), b = many.encode(kTexts);
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{7, 32}));
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-6);
  // Normalised (modules.json has Normalize).
  EXPECT_LT((a.norm(2, 1) - 1).abs().max().item<double>(), 1e-6);
}

TEST(Bert, PoolingFollowsSentenceTransformers) {
  const auto hidden = torch::tensor({1.0, 2.0, 3.0, 4.0, 100.0, -100.0}).view({1, 3, 2});
  const auto mask = torch::tensor({1, 1, 0}).view({1, 3});
  EXPECT_TRUE(torch::allclose(pool_sentences(hidden, mask, PoolingMode::Mean, false), torch::tensor({{2.0f, 3.0f}})));
  EXPECT_TRUE(torch::allclose(pool_sentences(hidden, mask, PoolingMode::Cls, false), torch::tensor({{1.0f, 2.0f}})));
  EXPECT_TRUE(torch::allclose(pool_sentences(hidden, mask, PoolingMode::Max, false), torch::tensor({{3.0f, 4.0f}})));
  const auto n = pool_sentences(hidden, mask, PoolingMode::Mean, true);
  EXPECT_TRUE(torch::allclose(n, torch::tensor({{2.0f, 3.0f}}) / std::sqrt(13.0f)));
}

TEST(Bert, EveryPoolingModeAndNoModulesJson) {
  for (const char* mode : {"pooling_mode_cls_token", "pooling_mode_max_tokens"}) {
    test::TempDir dir;
    test::write_tiny_sentence_model(dir.path(), {mode, false});
    auto enc = SentenceEncoder::load(dir.path());
    EXPECT_EQ(pooling_name(enc.pipeline().pooling), std::string(mode) == "pooling_mode_cls_token" ? "cls" : "max");
    EXPECT_FALSE(enc.pipeline().normalize);
    EXPECT_EQ(enc.encode(kTexts).size(0), 7);
  }
  test::TempDir dir;
  test::write_tiny_sentence_model(dir.path());
  std::filesystem::remove(dir / "modules.json");
  auto enc = SentenceEncoder::load(dir.path());
  EXPECT_EQ(enc.pipeline().pooling, PoolingMode::Mean);
  EXPECT_FALSE(enc.pipeline().normalize);
}

TEST(Bert, TruncatesAtMaxSeqLength) {
  test::TempDir dir;
  test::write_tiny_sentence_model(dir.path(), {"pooling_mode_mean_tokens", true, 8});
  auto enc = SentenceEncoder::load(dir.path());
  std::string long_text;
  for (int i = 0; i < 50; ++i) long_text += "the cat ";
  const auto ids = enc.tokenize(long_text);
  ASSERT_EQ(ids.size(), 8u);
  EXPECT_EQ(ids.front(), enc.tokenizer().token_to_id("[CLS]"));
  EXPECT_EQ(ids.back(), enc.tokenizer().token_to_id("[SEP]"));
  EXPECT_EQ(enc.encode({long_text}).size(0), 1);
}

TEST(Bert, Bfloat16IsCloseToFloat32) {
  test::TempDir dir;
  test::write_tiny_sentence_model(dir.path());
  auto f32 = SentenceEncoder::load(dir.path());
  auto bf16 = SentenceEncoder::load(dir.path(), {torch::kCPU, torch::kBFloat16, 4});
  const auto a = f32.encode(kTexts), b = bf16.encode(kTexts);
  EXPECT_EQ(b.scalar_type(), torch::kFloat);
  const auto cosine = (a * b).sum(1) / (a.norm(2, 1) * b.norm(2, 1));
  EXPECT_GT(cosine.min().item<double>(), 0.99);
}

TEST(Bert, BadTextsAreOneLineErrors) {
  test::TempDir dir;
  test::write_tiny_sentence_model(dir.path());
  auto enc = SentenceEncoder::load(dir.path());
  test::expect_input_error([&] { enc.encode({"fine", ""}); }, "text 2: empty text", {});
  test::expect_input_error([&] { enc.encode({std::string("bad \xff byte")}); }, "text 1: not valid UTF-8", {});
  test::expect_input_error([&] { enc.encode({std::string("surrogate \xed\xa0\x80")}); }, "text 1: not valid UTF-8",
                           {});
}

TEST(Bert, BadFoldersAreOneLineErrors) {
  auto with_model = [](const std::function<void(const std::filesystem::path&)>& spoil, const std::string& needle) {
    test::TempDir dir;
    test::write_tiny_sentence_model(dir.path());
    spoil(dir.path());
    test::expect_input_error([&] { SentenceEncoder::load(dir.path()); }, needle);
  };
  auto edit_config = [](const std::filesystem::path& dir, const char* key, const json& value) {
    json c = json::parse(test::read_bytes(dir / "config.json"));
    c[key] = value;
    test::write_text(dir / "config.json", c.dump());
  };
  with_model([&](auto& d) { edit_config(d, "model_type", "roberta"); }, "unsupported architecture");
  with_model([&](auto& d) { edit_config(d, "position_embedding_type", "relative_key"); }, "position_embedding_type");
  with_model([&](auto& d) { edit_config(d, "hidden_act", "swish"); }, "hidden_act 'swish' is not supported");
  with_model([&](auto& d) { edit_config(d, "hidden_size", 48); }, "has shape");
  with_model([&](auto& d) { std::filesystem::remove(d / "config.json"); }, "cannot open the model's config");
  with_model([&](auto& d) { std::filesystem::remove(d / "vocab.txt"); }, "no tokenizer.json or vocab.txt");
  with_model(
      [&](auto& d) {
        auto tensors = read_safetensors(d / "model.safetensors").tensors;
        tensors.erase("encoder.layer.1.output.dense.weight");
        write_safetensors(d / "model.safetensors", tensors, {});
      },
      "missing tensor 'encoder.layer.1.output.dense.weight'");
  with_model(
      [&](auto& d) {
        auto tensors = read_safetensors(d / "model.safetensors").tensors;
        tensors["encoder.layer.0.extra.weight"] = torch::zeros({2});
        write_safetensors(d / "model.safetensors", tensors, {});
      },
      "unexpected tensor 'encoder.layer.0.extra.weight'");
  with_model(
      [&](auto& d) {
        json p = json::parse(test::read_bytes(d / "1_Pooling" / "config.json"));
        p["pooling_mode_lasttoken"] = true;
        test::write_text(d / "1_Pooling" / "config.json", p.dump());
      },
      "pooling_mode_lasttoken is not supported");
  with_model(
      [&](auto& d) {
        json m = json::parse(test::read_bytes(d / "modules.json"));
        m.push_back({{"idx", 3}, {"name", "3"}, {"path", "3_Dense"}, {"type", "sentence_transformers.models.Dense"}});
        test::write_text(d / "modules.json", m.dump());
      },
      "module type 'sentence_transformers.models.Dense' is not supported");
  test::expect_input_error([] { SentenceEncoder::load("/nonexistent/model"); }, "not a folder");
}

TEST(Bert, PrefixedAndPoolerTensorsAreAccepted) {
  // BertFor... checkpoints keep the encoder under "bert." and add a pooler: both load.
  test::TempDir dir;
  test::write_tiny_sentence_model(dir.path());
  auto plain = SentenceEncoder::load(dir.path());
  auto tensors = read_safetensors(dir / "model.safetensors").tensors;
  std::map<std::string, torch::Tensor> prefixed;
  for (auto& [name, t] : tensors) prefixed["bert." + name] = t;
  prefixed["bert.pooler.dense.weight"] = torch::zeros({32, 32});
  prefixed["bert.pooler.dense.bias"] = torch::zeros({32});
  write_safetensors(dir / "model.safetensors", prefixed, {});
  auto loaded = SentenceEncoder::load(dir.path());
  EXPECT_TRUE(torch::equal(plain.encode(kTexts), loaded.encode(kTexts)));
}

TEST(BertParity, HiddenStatesEqualTheReference) {
  auto model = load_bert(test::bert_fixture("tiny"));
  const json& d = test::bert_cases()["hidden_debug"];
  std::vector<int64_t> flat_ids, flat_mask;
  for (const auto& row : d["input_ids"]) for (const auto& v : row) flat_ids.push_back(v.get<int64_t>());
  for (const auto& row : d["attention_mask"]) for (const auto& v : row) flat_mask.push_back(v.get<int64_t>());
  const auto B = static_cast<int64_t>(d["input_ids"].size());
  const auto input = torch::tensor(flat_ids, torch::kLong).view({B, -1});
  const auto mask = torch::tensor(flat_mask, torch::kLong).view({B, -1});
  torch::NoGradGuard no_grad;
  const auto hidden = model->forward(input, mask);
  const auto expected = read_npy(test::bert_fixture("tiny_hidden.npy"));
  ASSERT_EQ(hidden.sizes(), expected.sizes());
  EXPECT_LT(max_abs_diff(hidden, expected), 1e-5);
}

TEST(BertParity, SentenceEmbeddingsEqualTheReference) {
  auto enc = SentenceEncoder::load(test::bert_fixture("tiny"), {torch::kCPU, torch::kFloat, 32});
  const auto expected = read_npy(test::bert_fixture("tiny_embeddings.npy"));
  const auto ours = enc.encode(test::bert_sentences());
  ASSERT_EQ(ours.sizes(), expected.sizes());
  EXPECT_LT(max_abs_diff(ours, expected), 1e-5);
}

TEST(BertParity, RealMiniLMEqualsTheReference) {
  if (!std::filesystem::exists(test::minilm_dir() / "model.safetensors")) {
    GTEST_SKIP() << "all-MiniLM-L6-v2 not fetched (scripts/fetch-models)";
  }
  auto enc = SentenceEncoder::load(test::minilm_dir(), {torch::kCPU, torch::kFloat, 32});
  EXPECT_EQ(enc.pipeline().max_seq_length, test::bert_cases()["max_length_minilm"].get<int64_t>());
  EXPECT_TRUE(enc.pipeline().normalize);
  test::expect_reference_ids(enc.tokenizer(), "ids_minilm", enc.pipeline().max_seq_length);
  const auto expected = read_npy(test::bert_fixture("minilm_embeddings.npy"));
  const auto ours = enc.encode(test::bert_sentences());
  ASSERT_EQ(ours.sizes(), expected.sizes());
  EXPECT_LT(max_abs_diff(ours, expected), 1e-5);
}
