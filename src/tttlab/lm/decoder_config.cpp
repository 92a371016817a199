#include "tttlab/lm/decoder_config.hpp"

#include <cstdint>
#include <fstream>
#include <type_traits>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"
#include "tttlab/io/json_fields.hpp"

namespace tttlab::lm {

using nlohmann::json;

namespace {

template <typename T>
T field(const json& j, const char* name, const std::string& where) {
  return json_field<T>(j, name, where);
}

template <typename T>
T field_or(const json& j, const char* name, T fallback, const std::string& where) {
  return json_field_or<T>(j, name, fallback, where);
}

// bos/eos ids may be a number or a list (the first is used).
int64_t token_id_or_none(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return -1;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) return (*it)[0].get<int64_t>();
  return -1;
}

}  // namespace

const char* architecture_name(DecoderArchitecture a) { return a == DecoderArchitecture::llama ? "llama" : "qwen2"; }

const char* architecture_class(DecoderArchitecture a) {
  return a == DecoderArchitecture::llama ? "LlamaForCausalLM" : "Qwen2ForCausalLM";
}

void DecoderConfig::validate(const std::string& where) const {
  require_input(vocab_size > 0, "{}: vocab_size={} (expected > 0)", where, vocab_size);
  require_input(hidden_size > 0, "{}: hidden_size={} (expected > 0)", where, hidden_size);
  require_input(intermediate_size > 0, "{}: intermediate_size={} (expected > 0)", where, intermediate_size);
  require_input(num_hidden_layers > 0, "{}: num_hidden_layers={} (expected > 0)", where, num_hidden_layers);
  require_input(num_attention_heads > 0 && hidden_size % num_attention_heads == 0,
                "{}: hidden_size={} is not a multiple of num_attention_heads={}", where, hidden_size,
                num_attention_heads);
  require_input(head_dim() % 2 == 0, "{}: head dimension {} must be even for rotary embeddings", where, head_dim());
  require_input(num_key_value_heads > 0 && num_attention_heads % num_key_value_heads == 0,
                "{}: num_attention_heads={} is not a multiple of num_key_value_heads={}", where, num_attention_heads,
                num_key_value_heads);
  require_input(rope_theta > 0, "{}: rope_theta={} (expected > 0)", where, rope_theta);
  require_input(rms_norm_eps > 0, "{}: rms_norm_eps={} (expected > 0)", where, rms_norm_eps);
  require_input(max_position_embeddings > 0, "{}: max_position_embeddings={} (expected > 0)", where,
                max_position_embeddings);
}

DecoderConfig decoder_config_from_json(const json& j, const std::string& where) {
  require_input(j.is_object(), "{}: expected a JSON object", where);
  const auto model_type = field_or<std::string>(j, "model_type", "", where);
  const auto archs = j.find("architectures");
  const auto lists = [&](const char* cls) {
    return archs != j.end() && archs->is_array() && std::find(archs->begin(), archs->end(), json(cls)) != archs->end();
  };
  DecoderConfig c;
  if (model_type == "qwen2" || (model_type.empty() && lists("Qwen2ForCausalLM"))) {
    c.architecture = DecoderArchitecture::qwen2;
  } else if (model_type == "llama" || (model_type.empty() && lists("LlamaForCausalLM"))) {
    c.architecture = DecoderArchitecture::llama;
  } else {
    throw_input_error("{}: unsupported architecture (model_type '{}', architectures {}); expected model_type 'qwen2' "
                "(Qwen2ForCausalLM) or 'llama' (LlamaForCausalLM)",
                where, printable(model_type), archs == j.end() ? "none" : printable(archs->dump()));
  }
  if (c.architecture == DecoderArchitecture::llama) {
    c.attention_bias = field_or<bool>(j, "attention_bias", false, where);
    c.mlp_bias = field_or<bool>(j, "mlp_bias", false, where);
    require_input(field_or<int64_t>(j, "pretraining_tp", 1, where) == 1,
                  "{}: pretraining_tp other than 1 is not supported", where);
  }
  const auto act = field_or<std::string>(j, "hidden_act", "silu", where);
  require_input(act == "silu", "{}: hidden_act '{}' is not supported (this model family uses 'silu')", where,
                printable(act));
  require_input(!field_or<bool>(j, "use_sliding_window", false, where),
                "{}: use_sliding_window=true is not supported (full causal attention only)", where);
  // Rotary settings: transformers 4 writes rope_theta (and rope_scaling, null for plain RoPE),
  // transformers 5 writes rope_parameters {rope_type, rope_theta}. Only plain ("default") RoPE is supported.
  double theta_from_parameters = 0;
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    require_input(it->is_object(), "{}: field '{}' must be an object, got {}", where, key, printable(it->dump()));
    const auto type =
        field_or<std::string>(*it, "rope_type", field_or<std::string>(*it, "type", "default", where), where);
    require_input(type == "default", "{}: {} of type '{}' is not supported (plain RoPE only)", where, key,
                  printable(type));
    theta_from_parameters = field_or<double>(*it, "rope_theta", theta_from_parameters, where);
  }
  const auto layer_types = j.find("layer_types");
  if (layer_types != j.end() && layer_types->is_array()) {
    for (const auto& t : *layer_types) {
      require_input(t == "full_attention", "{}: layer type {} is not supported (full causal attention only)", where,
                    printable(t.dump()));
    }
  }

  c.vocab_size = field<int64_t>(j, "vocab_size", where);
  c.hidden_size = field<int64_t>(j, "hidden_size", where);
  c.intermediate_size = field<int64_t>(j, "intermediate_size", where);
  c.num_hidden_layers = field<int64_t>(j, "num_hidden_layers", where);
  c.num_attention_heads = field<int64_t>(j, "num_attention_heads", where);
  c.num_key_value_heads = field_or<int64_t>(j, "num_key_value_heads", c.num_attention_heads, where);
  c.max_position_embeddings = field_or<int64_t>(j, "max_position_embeddings", c.max_position_embeddings, where);
  c.rope_theta =
      field_or<double>(j, "rope_theta", theta_from_parameters > 0 ? theta_from_parameters : c.rope_theta, where);
  c.rms_norm_eps = field_or<double>(j, "rms_norm_eps", c.rms_norm_eps, where);
  c.tie_word_embeddings = field_or<bool>(j, "tie_word_embeddings", false, where);
  c.bos_token_id = token_id_or_none(j, "bos_token_id");
  c.eos_token_id = token_id_or_none(j, "eos_token_id");
  c.torch_dtype = field_or<std::string>(j, "torch_dtype", field_or<std::string>(j, "dtype", "float32", where), where);
  const auto head_dim = j.find("head_dim");
  if (head_dim != j.end() && !head_dim->is_null()) {
    // Compared by division: head_dim * num_attention_heads can overflow int64.
    require_input(c.num_attention_heads > 0 && head_dim->is_number_integer() &&
                      c.hidden_size % c.num_attention_heads == 0 &&
                      head_dim->get<int64_t>() == c.hidden_size / c.num_attention_heads,
                  "{}: head_dim {} must equal hidden_size / num_attention_heads", where, printable(head_dim->dump()));
  }
  c.validate(where);
  return c;
}

DecoderConfig read_decoder_config(const std::filesystem::path& config_json) {
  return decoder_config_from_json(read_json_file(config_json.string(), "model's config"), config_json.string());
}

json decoder_config_to_json(const DecoderConfig& c) {
  json j = {{"architectures", {architecture_class(c.architecture)}},
            {"model_type", architecture_name(c.architecture)},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"num_hidden_layers", c.num_hidden_layers},
            {"num_attention_heads", c.num_attention_heads},
            {"num_key_value_heads", c.num_key_value_heads},
            {"max_position_embeddings", c.max_position_embeddings},
            {"rope_theta", c.rope_theta},
            {"rms_norm_eps", c.rms_norm_eps},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"hidden_act", "silu"},
            {"attention_dropout", 0.0},
            {"use_sliding_window", false},
            {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", c.rope_theta}}},
            {"torch_dtype", c.torch_dtype}};
  if (c.architecture == DecoderArchitecture::llama) {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = c.mlp_bias;
    j["head_dim"] = c.head_dim();
    j.erase("use_sliding_window");
  }
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_id >= 0) j["eos_token_id"] = c.eos_token_id;
  return j;
}

}  // namespace tttlab::lm
