#include "tttlab/encoder/bert_config.hpp"

#include <algorithm>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"
#include "tttlab/io/json_fields.hpp"

namespace tttlab::encoder {

using nlohmann::json;

void BertConfig::validate(const std::string& where) const {
  require_input(vocab_size > 0, "{}: vocab_size={} (expected > 0)", where, vocab_size);
  require_input(hidden_size > 0, "{}: hidden_size={} (expected > 0)", where, hidden_size);
  require_input(intermediate_size > 0, "{}: intermediate_size={} (expected > 0)", where, intermediate_size);
  require_input(num_hidden_layers > 0, "{}: num_hidden_layers={} (expected > 0)", where, num_hidden_layers);
  require_input(num_attention_heads > 0 && hidden_size % num_attention_heads == 0,
                "{}: hidden_size={} is not a multiple of num_attention_heads={}", where, hidden_size,
                num_attention_heads);
  require_input(max_position_embeddings > 0, "{}: max_position_embeddings={} (expected > 0)", where,
                max_position_embeddings);
  require_input(type_vocab_size > 0, "{}: type_vocab_size={} (expected > 0)", where, type_vocab_size);
  require_input(layer_norm_eps > 0, "{}: layer_norm_eps={} (expected > 0)", where, layer_norm_eps);
  const bool act_ok = hidden_act == "gelu" || hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh" ||
                      hidden_act == "relu";
  require_input(act_ok, "{}: hidden_act '{}' is not supported (gelu, gelu_new, gelu_pytorch_tanh or relu)", where,
                printable(hidden_act));
  // Bounds that keep a hostile config.json from asking for terabytes before a tensor is read.
  require_input(vocab_size <= (1 << 24) && hidden_size <= (1 << 16) && intermediate_size <= (1 << 18) &&
                    num_hidden_layers <= 1024 && max_position_embeddings <= (1 << 20) && type_vocab_size <= 1024,
                "{}: the model's shape is implausibly large", where);
}

BertConfig bert_config_from_json(const json& j, const std::string& where) {
  require_input(j.is_object(), "{}: expected a JSON object", where);
  const auto model_type = json_field_or<std::string>(j, "model_type", "", where);
  const auto archs = j.find("architectures");
  bool bert_arch = false;
  if (archs != j.end() && archs->is_array()) {
    for (const auto& a : *archs) bert_arch = bert_arch || (a.is_string() && a.get<std::string>().rfind("Bert", 0) == 0);
  }
  require_input(model_type == "bert" || (model_type.empty() && bert_arch),
                "{}: unsupported architecture (model_type '{}', architectures {}); expected model_type 'bert'", where,
                printable(model_type), archs == j.end() ? "none" : printable(archs->dump()));
  const auto position = json_field_or<std::string>(j, "position_embedding_type", "absolute", where);
  require_input(position == "absolute", "{}: position_embedding_type '{}' is not supported (absolute only)", where,
                printable(position));
  BertConfig c;
  c.vocab_size = json_field<int64_t>(j, "vocab_size", where);
  c.hidden_size = json_field<int64_t>(j, "hidden_size", where);
  c.num_hidden_layers = json_field<int64_t>(j, "num_hidden_layers", where);
  c.num_attention_heads = json_field<int64_t>(j, "num_attention_heads", where);
  c.intermediate_size = json_field<int64_t>(j, "intermediate_size", where);
  c.max_position_embeddings = json_field_or<int64_t>(j, "max_position_embeddings", c.max_position_embeddings, where);
  c.type_vocab_size = json_field_or<int64_t>(j, "type_vocab_size", c.type_vocab_size, where);
  c.layer_norm_eps = json_field_or<double>(j, "layer_norm_eps", c.layer_norm_eps, where);
  c.hidden_act = json_field_or<std::string>(j, "hidden_act", c.hidden_act, where);
  c.pad_token_id = json_field_or<int64_t>(j, "pad_token_id", c.pad_token_id, where);
  c.validate(where);
  return c;
}

BertConfig read_bert_config(const std::filesystem::path& config_json) {
  return bert_config_from_json(read_json_file(config_json.string(), "model's config"), config_json.string());
}

json bert_config_to_json(const BertConfig& c) {
  return {{"architectures", {"BertModel"}},
          {"model_type", "bert"},
          {"vocab_size", c.vocab_size},
          {"hidden_size", c.hidden_size},
          {"num_hidden_layers", c.num_hidden_layers},
          {"num_attention_heads", c.num_attention_heads},
          {"intermediate_size", c.intermediate_size},
          {"max_position_embeddings", c.max_position_embeddings},
          {"type_vocab_size", c.type_vocab_size},
          {"layer_norm_eps", c.layer_norm_eps},
          {"hidden_act", c.hidden_act},
          {"pad_token_id", c.pad_token_id},
          {"position_embedding_type", "absolute"}};
}

}  // namespace tttlab::encoder
