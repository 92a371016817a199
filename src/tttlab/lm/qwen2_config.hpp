#pragma once
// The shape of a Qwen2 decoder, as Hugging Face's config.json for Qwen2ForCausalLM states it.
// Read with checks (a missing field, a bad value or another architecture is an InputError naming
// the file and the field); written with the fields transformers needs to load the model back.
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace tttlab::lm {

struct Qwen2Config {
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
Qwen2Config qwen2_config_from_json(const nlohmann::json& j, const std::string& where);
Qwen2Config read_qwen2_config(const std::filesystem::path& config_json);
nlohmann::json qwen2_config_to_json(const Qwen2Config& c);

}  // namespace tttlab::lm
