#pragma once
// The shape of a decoder-only LM of the Llama family, as Hugging Face's config.json states it. Two
// architectures share one model (decoder_model.hpp) and differ only in what the config sets:
//   qwen2 (Qwen2ForCausalLM): biases on the q/k/v projections;
//   llama (LlamaForCausalLM, e.g. SmolLM2): no biases unless attention_bias / mlp_bias say so.
// Both: RMSNorm, rotary embeddings (plain RoPE with rope_theta), grouped-query attention, SwiGLU,
// tied or untied output embedding. Read with checks (a missing field, a bad value or another
// architecture is an InputError naming the file and the field); written with the fields
// transformers needs to load the model back as the same architecture.
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace tttlab::lm {

enum class DecoderArchitecture { qwen2, llama };
const char* architecture_name(DecoderArchitecture a);     // "qwen2" | "llama" (config.json's model_type)
const char* architecture_class(DecoderArchitecture a);    // "Qwen2ForCausalLM" | "LlamaForCausalLM"

struct DecoderConfig {
  DecoderArchitecture architecture = DecoderArchitecture::qwen2;
  bool attention_bias = true;  // biases on q/k/v (Qwen2 always; Llama when attention_bias, then on o too)
  bool mlp_bias = false;       // biases on gate/up/down (Llama's mlp_bias)
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // grouped-query attention: heads share K/V in groups
  int64_t max_position_embeddings = 32768;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = -1;  // -1: none given
  int64_t eos_token_id = -1;
  std::string torch_dtype = "float32";

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  void validate(const std::string& where) const;  // InputError on an inconsistent shape
};

// `where` names the source in error messages (the file).
DecoderConfig decoder_config_from_json(const nlohmann::json& j, const std::string& where);
DecoderConfig read_decoder_config(const std::filesystem::path& config_json);
nlohmann::json decoder_config_to_json(const DecoderConfig& c);

}  // namespace tttlab::lm
