// The Qwen2 model and Hugging Face checkpoints: our logits against transformers' (recorded fixtures,
// fp32, eager attention) for a tied and a sharded untied model; checkpoint errors; save/load round
// trips; causality, grouped-query attention, bfloat16.
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lm/lm_fixtures.hpp"
#include "test_support.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/io/safetensors.hpp"
#include "tttlab/lm/hf_checkpoint.hpp"

using namespace tttlab;
using namespace tttlab::lm;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

DecoderConfig tiny_config(int64_t kv_heads = 2, bool tied = true) { return test::tiny_qwen2_config(97, kv_heads, tied); }

// Random weights large enough to matter (biases and norms too).
CausalLM random_model(const DecoderConfig& c, uint64_t seed) {
  auto m = make_random_decoder(c, seed);
  torch::NoGradGuard no_grad;
  for (auto& p : m->parameters()) p.add_(0.05 * torch::randn_like(p));
  return m;
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

void copy_folder(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) fs::copy_file(e.path(), to / e.path().filename());
}

}  // namespace

TEST(Qwen2, LogitsEqualTransformersForTiedAndShardedCheckpoints) {
  const auto ids = read_npy(test::lm_fixture("input_ids.npy"));
  for (const std::string name : {"tied", "sharded"}) {
    auto model = load_causal_lm(test::lm_fixture(name));
    EXPECT_EQ(model->config.tie_word_embeddings, name == "tied");
    torch::NoGradGuard no_grad;
    const auto logits = model->forward(ids.to(torch::kLong));
    const auto expected = read_npy(test::lm_fixture("logits_" + name + ".npy"));
    ASSERT_EQ(logits.sizes(), expected.sizes());
    const double diff = max_abs(logits - expected);
    std::printf("logits vs transformers, %s: max abs difference %.3g (max abs logit %.3g)\n", name.c_str(), diff,
                max_abs(expected));
    EXPECT_LT(diff, 1e-4) << name;
  }
}

TEST(Qwen2, TransformersLoadsOurCheckpointAndComputesOurLogits) {
  // tests/fixtures/lm/ours was written by `tttlab lm init` (LibTorch 2.11, GPU machine); transformers
  // 5.17 loaded it with no missing, unexpected or mismatched tensors (check_our_checkpoint.py) and
  // recorded its logits, which ours must equal.
  const auto ids = read_npy(test::lm_fixture("input_ids.npy")).to(torch::kLong);
  auto model = load_causal_lm(test::lm_fixture("ours"));
  torch::NoGradGuard no_grad;
  const auto expected = read_npy(test::lm_fixture("logits_ours_by_transformers.npy"));
  const double diff = max_abs(model->forward(ids) - expected);
  std::printf("our checkpoint, logits vs transformers': max abs difference %.3g\n", diff);
  EXPECT_LT(diff, 1e-4);
}

TEST(Qwen2, ConfigReadsTransformers4And5Fields) {
  const auto c5 = read_decoder_config(test::lm_fixture("sharded/config.json"));
  EXPECT_DOUBLE_EQ(c5.rope_theta, 1e6);  // transformers 5: rope_parameters.rope_theta
  json j = json::parse(test::read_bytes(test::lm_fixture("tied/config.json")));
  j.erase("rope_parameters");
  j["rope_theta"] = 500000.0;
  j["rope_scaling"] = nullptr;
  EXPECT_DOUBLE_EQ(decoder_config_from_json(j, "v4").rope_theta, 500000.0);
  auto expect_error = [&](json bad, const std::string& needle) {
    test::expect_input_error([&] { decoder_config_from_json(bad, "config.json"); }, needle);
  };
  json mistral = j;
  mistral["model_type"] = "mistral";
  mistral["architectures"] = {"MistralForCausalLM"};
  expect_error(mistral, "unsupported architecture");
  json missing = j;
  missing.erase("hidden_size");
  expect_error(missing, "hidden_size");
  json sliding = j;
  sliding["use_sliding_window"] = true;
  expect_error(sliding, "sliding");
  json yarn = j;
  yarn["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  expect_error(yarn, "yarn");
  json heads = j;
  heads["num_key_value_heads"] = 3;
  expect_error(heads, "num_key_value_heads");
}

TEST(Qwen2, CheckpointErrorsNameTheProblem) {
  const test::TempDir dir;
  copy_folder(test::lm_fixture("tied"), dir / "m");
  auto file = read_safetensors(dir / "m" / "model.safetensors");
  // A missing tensor.
  auto tensors = file.tensors;
  tensors.erase("model.layers.1.self_attn.q_proj.bias");
  write_safetensors(dir / "m" / "model.safetensors", tensors, file.metadata);
  test::expect_input_error([&] { load_causal_lm(dir / "m"); }, "model.layers.1.self_attn.q_proj.bias");
  // A shape mismatch.
  tensors = file.tensors;
  tensors["model.norm.weight"] = torch::ones({63});
  write_safetensors(dir / "m" / "model.safetensors", tensors, file.metadata);
  test::expect_input_error([&] { load_causal_lm(dir / "m"); }, "model.norm.weight");
  // An unexpected tensor.
  tensors = file.tensors;
  tensors["model.extra.weight"] = torch::ones({2});
  write_safetensors(dir / "m" / "model.safetensors", tensors, file.metadata);
  test::expect_input_error([&] { load_causal_lm(dir / "m"); }, "model.extra.weight");
  // No weights at all, and a shard named by the index that is missing.
  fs::remove(dir / "m" / "model.safetensors");
  test::expect_input_error([&] { load_causal_lm(dir / "m"); }, "model.safetensors");
  copy_folder(test::lm_fixture("sharded"), dir / "s");
  fs::remove(dir / "s" / "model-00003-of-00005.safetensors");
  test::expect_input_error([&] { load_causal_lm(dir / "s"); }, "model-00003-of-00005.safetensors");
  test::expect_input_error([&] { load_causal_lm(dir / "nowhere"); }, "nowhere");
}

TEST(Qwen2, SaveThenLoadGivesTheSameModel) {
  for (const bool tied : {true, false}) {
    const test::TempDir dir;
    auto model = random_model(tiny_config(2, tied), 3);
    save_causal_lm(dir / "m", model);
    EXPECT_TRUE(fs::exists(dir / "m" / "config.json"));
    const auto file = read_safetensors(dir / "m" / "model.safetensors");
    EXPECT_EQ(file.metadata.at("format"), "pt");
    EXPECT_EQ(file.tensors.count("lm_head.weight"), tied ? 0u : 1u);
    EXPECT_EQ(file.tensors.count("model.layers.0.self_attn.k_proj.bias"), 1u);
    auto back = load_causal_lm(dir / "m");
    const auto ids = torch::randint(97, {2, 20}, torch::kLong);
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(back->forward(ids).equal(model->forward(ids)));
  }
}

TEST(Qwen2, IsCausal) {
  auto model = random_model(tiny_config(), 4);
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(97, {1, 24}, torch::kLong);
  const auto a = model->forward(ids);
  ids[0][15] = (ids[0][15].item<int64_t>() + 1) % 97;
  const auto b = model->forward(ids);
  EXPECT_TRUE(a.slice(1, 0, 15).equal(b.slice(1, 0, 15)));
  EXPECT_GT(max_abs(a.slice(1, 15) - b.slice(1, 15)), 1e-4);
}

TEST(Qwen2, GroupedQueryAttentionEqualsRepeatedHeads) {
  // A model with 2 K/V heads equals one with 4 whose K/V projections repeat each head twice.
  auto gqa = random_model(tiny_config(2), 5);
  auto mha = make_random_decoder(tiny_config(4), 6);
  torch::NoGradGuard no_grad;
  auto mha_params = mha->named_parameters();
  for (const auto& p : gqa->named_parameters()) {
    auto target = mha_params[p.key()];
    const bool kv = p.key().find("k_proj") != std::string::npos || p.key().find("v_proj") != std::string::npos;
    if (!kv) {
      target.copy_(p.value());
      continue;
    }
    const int64_t hd = 8;  // head_dim = 32 / 4
    auto heads = p.value().reshape({2, hd, -1});
    target.copy_(heads.repeat_interleave(2, 0).reshape(target.sizes()));
  }
  const auto ids = torch::randint(97, {2, 16}, torch::kLong);
  EXPECT_LT(max_abs(gqa->forward(ids) - mha->forward(ids)), 1e-5);
}

TEST(Qwen2, Bfloat16IsCloseToFloat32) {
  const test::TempDir dir;
  auto model = random_model(tiny_config(), 7);
  save_causal_lm(dir / "m", model);
  auto bf16 = load_causal_lm(dir / "m", {torch::kBFloat16, torch::kCPU});
  EXPECT_EQ(bf16->output_embedding().scalar_type(), torch::kBFloat16);
  const auto ids = torch::randint(97, {1, 16}, torch::kLong);
  torch::NoGradGuard no_grad;
  const auto full = model->forward(ids);
  const auto half = bf16->forward(ids).to(torch::kFloat);
  EXPECT_LT(max_abs(half - full) / max_abs(full), 0.05);
  EXPECT_GT(half.argmax(-1).eq(full.argmax(-1)).to(torch::kFloat).mean().item<double>(), 0.8);
}

TEST(Qwen2, RejectsTokenIdsOutsideTheVocabulary) {
  auto model = random_model(tiny_config(), 8);
  test::expect_input_error([&] { model->forward(torch::tensor({{1, 97}}, torch::kLong)); }, "vocabulary");
}
