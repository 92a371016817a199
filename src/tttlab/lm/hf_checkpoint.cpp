#include "tttlab/lm/hf_checkpoint.hpp"

#include <fstream>
#include <map>
#include <set>
#include <system_error>

#include <nlohmann/json.hpp>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"
#include "tttlab/core/shape.hpp"
#include "tttlab/io/safetensors.hpp"

namespace tttlab::lm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool ignorable(const std::string& name, bool tied) {
  // Old checkpoints store the rotary frequencies; tied models sometimes store lm_head anyway.
  const std::string inv_freq = "rotary_emb.inv_freq";
  if (name.size() >= inv_freq.size() && name.compare(name.size() - inv_freq.size(), inv_freq.size(), inv_freq) == 0)
    return true;
  return tied && name == "lm_head.weight";
}

}  // namespace

fs::path checkpoint_file(const fs::path& dir) {
  return dir / (fs::exists(dir / "model.safetensors") ? "model.safetensors" : "model.safetensors.index.json");
}

std::map<std::string, CheckpointTensor> read_checkpoint_tensors(const fs::path& dir) {
  std::map<std::string, CheckpointTensor> out;
  const fs::path single = dir / "model.safetensors", index = dir / "model.safetensors.index.json";
  if (fs::exists(single)) {
    for (auto& [name, t] : read_safetensors(single).tensors) out[name] = {t, single};
    return out;
  }
  require_input(fs::exists(index), "{}: no model.safetensors or model.safetensors.index.json", dir.string());
  json j;
  try {
    std::ifstream in(index);
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw_input_error("{}: not valid JSON ({})", index.string(), printable(e.what()));
  }
  const auto map = j.find("weight_map");
  require_input(map != j.end() && map->is_object(), "{}: missing object 'weight_map'", index.string());
  std::map<std::string, std::set<std::string>> by_shard;
  for (const auto& [name, shard] : map->items()) {
    require_input(shard.is_string(), "{}: weight_map['{}'] is not a file name", index.string(), printable(name));
    const std::string file = shard.get<std::string>();
    require_input(file.find('/') == std::string::npos && file.find("..") == std::string::npos,
                  "{}: shard name '{}' must be a file in the same folder", index.string(), printable(file));
    by_shard[file].insert(name);
  }
  for (const auto& [file, names] : by_shard) {
    const fs::path path = dir / file;
    // The name comes from the index file: the error_code overload turns a name the file system
    // refuses (longer than NAME_MAX, say) into bad input instead of a filesystem_error.
    std::error_code ec;
    const bool present = fs::exists(path, ec);
    require_input(!ec, "{}: shard name '{}' cannot be a file here ({})", index.string(), printable(file), ec.message());
    require_input(present, "{}: shard {} is missing", index.string(), printable(path.string()));
    auto shard = read_safetensors(path);
    for (const auto& name : names) {
      const auto it = shard.tensors.find(name);
      require_input(it != shard.tensors.end(), "{}: missing tensor '{}' (the index puts it in this shard)",
                    printable(path.string()), printable(name));
      out[name] = {it->second, path};
    }
  }
  return out;
}

void copy_checkpoint_parameters(torch::nn::Module& module, std::map<std::string, CheckpointTensor>& tensors,
                                const std::string& where) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters()) {
    const auto it = tensors.find(p.key());
    require_input(it != tensors.end(), "{}: missing tensor '{}'", where, p.key());
    const auto& t = it->second.tensor;
    require_input(t.sizes() == p.value().sizes(), "{}: tensor '{}' has shape {}, expected {}", it->second.file.string(),
                  p.key(), shape_string(t.sizes()), shape_string(p.value().sizes()));
    require_input(t.is_floating_point(), "{}: tensor '{}' is not floating point", it->second.file.string(), p.key());
    p.value().copy_(t);
    tensors.erase(it);
  }
}

CausalLM load_causal_lm(const fs::path& dir, const LoadOptions& options) {
  require_input(fs::is_directory(dir), "{}: not a folder (expected a Hugging Face checkpoint folder)", dir.string());
  const DecoderConfig config = read_decoder_config(dir / "config.json");
  auto tensors = read_checkpoint_tensors(dir);
  CausalLM model(config);
  torch::NoGradGuard no_grad;
  const std::string where = checkpoint_file(dir).string();
  copy_checkpoint_parameters(*model, tensors, where);
  for (const auto& [name, t] : tensors) {
    require_input(ignorable(name, config.tie_word_embeddings),
                  "{}: unexpected tensor '{}' (not part of a {} model with this config.json)",
                  printable(t.file.string()), printable(name), architecture_name(config.architecture));
  }
  model->to(options.device, options.dtype.value_or(torch::kFloat));
  model->eval();
  return model;
}

void save_causal_lm(const fs::path& dir, CausalLM& model) {
  fs::create_directories(dir);
  std::map<std::string, torch::Tensor> tensors;
  torch::ScalarType dtype = torch::kFloat;
  for (const auto& p : model->named_parameters()) {
    if (p.key().find("lora_") != std::string::npos) continue;
    tensors[p.key()] = p.value().detach().to(torch::kCPU).contiguous();
    dtype = p.value().scalar_type();
  }
  DecoderConfig config = model->config;
  config.torch_dtype = dtype == torch::kBFloat16 ? "bfloat16" : dtype == torch::kHalf ? "float16" : "float32";
  write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  write_text_atomically(dir / "config.json", decoder_config_to_json(config).dump(2) + "\n");
}

}  // namespace tttlab::lm
