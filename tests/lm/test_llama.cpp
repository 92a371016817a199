// The Llama architecture of the decoder: logits against transformers' LlamaForCausalLM (recorded
// fixtures in tests/fixtures/llama, fp32, eager attention) without biases and untied (as SmolLM2 is
// shaped, but untied) and with every bias on and a tied embedding; the config fields that set the
// family; a save/load round trip that keeps the family.
#include <cstdio>

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

fs::path llama_fixture(const std::string& name) {
  return fs::path(TTTLAB_SOURCE_DIR) / "tests" / "fixtures" / "llama" / name;
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

}  // namespace

TEST(Llama, LogitsEqualTransformersWithAndWithoutBiases) {
  const auto ids = read_npy(llama_fixture("input_ids.npy")).to(torch::kLong);
  for (const std::string name : {"untied", "biased"}) {
    auto model = load_causal_lm(llama_fixture(name));
    const auto& c = model->config;
    EXPECT_EQ(c.architecture, DecoderArchitecture::llama);
    EXPECT_EQ(c.attention_bias, name == "biased");
    EXPECT_EQ(c.mlp_bias, name == "biased");
    EXPECT_EQ(c.tie_word_embeddings, name == "biased");
    EXPECT_DOUBLE_EQ(c.rope_theta, 100000.0);
    torch::NoGradGuard no_grad;
    const auto logits = model->forward(ids);
    const auto expected = read_npy(llama_fixture("logits_" + name + ".npy"));
    ASSERT_EQ(logits.sizes(), expected.sizes());
    const double diff = max_abs(logits - expected);
    std::printf("Llama logits vs transformers, %s: max abs difference %.3g (max abs logit %.3g)\n", name.c_str(),
                diff, max_abs(expected));
    EXPECT_LT(diff, 1e-4) << name;
  }
}

TEST(Llama, BiasesFollowTheConfig) {
  // Without biases a checkpoint holding one is refused (it would be silently dropped otherwise);
  // with them, a missing o_proj or MLP bias is named.
  const test::TempDir dir;
  fs::create_directories(dir / "m");
  for (const auto* f : {"config.json", "model.safetensors"}) fs::copy_file(llama_fixture("untied") / f, dir / "m" / f);
  auto file = read_safetensors(dir / "m" / "model.safetensors");
  auto tensors = file.tensors;
  tensors["model.layers.0.self_attn.q_proj.bias"] = torch::zeros({32});
  write_safetensors(dir / "m" / "model.safetensors", tensors, file.metadata);
  test::expect_input_error([&] { load_causal_lm(dir / "m"); }, "model.layers.0.self_attn.q_proj.bias");

  fs::remove_all(dir / "m");
  fs::create_directories(dir / "m");
  for (const auto* f : {"config.json", "model.safetensors"}) fs::copy_file(llama_fixture("biased") / f, dir / "m" / f);
  file = read_safetensors(dir / "m" / "model.safetensors");
  for (const auto* missing : {"model.layers.1.self_attn.o_proj.bias", "model.layers.0.mlp.down_proj.bias"}) {
    tensors = file.tensors;
    ASSERT_EQ(tensors.erase(missing), 1u) << missing;
    write_safetensors(dir / "m" / "model.safetensors", tensors, file.metadata);
    test::expect_input_error([&] { load_causal_lm(dir / "m"); }, missing);
  }
}

TEST(Llama, ConfigFieldsAndRefusals) {
  const json base = json::parse(test::read_bytes(llama_fixture("untied/config.json")));
  const auto c = decoder_config_from_json(base, "config.json");
  EXPECT_EQ(c.architecture, DecoderArchitecture::llama);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  json by_class = base;  // the architecture from `architectures` alone
  by_class.erase("model_type");
  EXPECT_EQ(decoder_config_from_json(by_class, "c").architecture, DecoderArchitecture::llama);
  auto expect_error = [&](json bad, const std::string& needle) {
    test::expect_input_error([&] { decoder_config_from_json(bad, "config.json"); }, needle);
  };
  json tp = base;
  tp["pretraining_tp"] = 2;
  expect_error(tp, "pretraining_tp");
  json llama3 = base;  // Llama 3.1's frequency-scaled RoPE is not plain RoPE
  llama3["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  expect_error(llama3, "llama3");
  json act = base;
  act["hidden_act"] = "gelu";
  expect_error(act, "hidden_act");
}

TEST(Llama, SaveThenLoadKeepsTheFamily) {
  for (const bool bias : {false, true}) {
    DecoderConfig c = test::tiny_qwen2_config(61, 2, /*tied=*/!bias);
    c.architecture = DecoderArchitecture::llama;
    c.attention_bias = bias;
    c.mlp_bias = bias;
    auto model = make_random_decoder(c, 9);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.add_(0.05 * torch::randn_like(p));
    }
    const test::TempDir dir;
    save_causal_lm(dir / "m", model);
    const json written = json::parse(test::read_bytes(dir / "m" / "config.json"));
    EXPECT_EQ(written.at("model_type"), "llama");
    EXPECT_EQ(written.at("architectures").at(0), "LlamaForCausalLM");
    EXPECT_EQ(written.at("attention_bias"), bias);
    const auto tensors = read_safetensors(dir / "m" / "model.safetensors").tensors;
    EXPECT_EQ(tensors.count("model.layers.0.self_attn.o_proj.bias"), bias ? 1u : 0u);
    EXPECT_EQ(tensors.count("model.layers.0.mlp.up_proj.bias"), bias ? 1u : 0u);
    auto back = load_causal_lm(dir / "m");
    EXPECT_EQ(back->config.architecture, DecoderArchitecture::llama);
    const auto ids = torch::randint(61, {2, 12}, torch::kLong);
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(back->forward(ids).equal(model->forward(ids)));
  }
}
