#pragma once
// The shape of a BERT-family encoder, as Hugging Face's config.json for BertModel states it
// (model_type "bert": BERT, MiniLM, all-MiniLM-L6-v2, ...). Read with checks: a missing field, a bad
// value, another architecture, a non-absolute position embedding or an unsupported activation is an
// InputError naming the file and the field.
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace tttlab::encoder {

struct BertConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";  // gelu (erf), gelu_new / gelu_pytorch_tanh (tanh form), relu
  int64_t pad_token_id = 0;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  void validate(const std::string& where) const;
};

BertConfig bert_config_from_json(const nlohmann::json& j, const std::string& where);
BertConfig read_bert_config(const std::filesystem::path& config_json);
nlohmann::json bert_config_to_json(const BertConfig& c);

}  // namespace tttlab::encoder
