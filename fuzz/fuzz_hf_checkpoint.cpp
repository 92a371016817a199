// Fuzz target: tttlab::lm::load_causal_lm on a sharded checkpoint folder whose
// model.safetensors.index.json is the input. The folder's config.json and its two shards are a
// valid one-layer model written once at start-up, so the input decides which tensor is looked up in
// which file. Tensors in layers go to model-00002-of-00002.safetensors, the others to
// model-00001-of-00002.safetensors (fuzz/make_seeds.py writes the matching index as the seed).
#include <map>

#include "fuzz_support.hpp"
#include "tttlab/io/safetensors.hpp"
#include "tttlab/lm/hf_checkpoint.hpp"

namespace {

std::filesystem::path make_checkpoint() {
  namespace fs = std::filesystem;
  tttlab::lm::DecoderConfig config;
  config.vocab_size = 8;
  config.hidden_size = 4;
  config.intermediate_size = 8;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 1;
  config.max_position_embeddings = 16;
  tttlab::lm::CausalLM model(config);
  const fs::path single = tttlab::fuzz::scratch_dir() / "single";
  tttlab::lm::save_causal_lm(single, model);
  const fs::path dir = tttlab::fuzz::scratch_dir() / "sharded";
  fs::create_directories(dir);
  fs::copy_file(single / "config.json", dir / "config.json");
  std::map<std::string, torch::Tensor> first, second;
  for (const auto& [name, tensor] : tttlab::read_safetensors(single / "model.safetensors").tensors) {
    (name.find("layers.") != std::string::npos ? second : first)[name] = tensor;
  }
  tttlab::write_safetensors(dir / "model-00001-of-00002.safetensors", first, {{"format", "pt"}});
  tttlab::write_safetensors(dir / "model-00002-of-00002.safetensors", second, {{"format", "pt"}});
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto dir = make_checkpoint();
  tttlab::fuzz::write_bytes(dir / "model.safetensors.index.json", data, size);
  tttlab::fuzz::expect_success_or_input_error([&] { (void)tttlab::lm::load_causal_lm(dir); });
  return 0;
}
