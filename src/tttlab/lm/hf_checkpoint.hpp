#pragma once
// Hugging Face checkpoints of decoder LMs (Qwen2, Llama; decoder_config.hpp): a folder with config.json and either model.safetensors
// or model.safetensors.index.json plus its shards (as transformers' save_pretrained writes them).
// Loading checks every tensor: a missing tensor, a shape mismatch, an unexpected tensor or an
// unsupported architecture is an InputError naming the file and the tensor. Saving writes the same
// layout (safetensors metadata format=pt), so transformers' from_pretrained loads our models.
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "tttlab/lm/decoder_model.hpp"

namespace tttlab::lm {

struct LoadOptions {
  std::optional<torch::ScalarType> dtype;  // default: float32
  torch::Device device = torch::kCPU;
};

// Every tensor of a checkpoint folder (model.safetensors, or model.safetensors.index.json and its
// shards), with the file it came from for messages. Shared by every model family's loader.
struct CheckpointTensor {
  torch::Tensor tensor;
  std::filesystem::path file;
};
std::map<std::string, CheckpointTensor> read_checkpoint_tensors(const std::filesystem::path& dir);

// The file to name in messages about a checkpoint folder: model.safetensors or the index.
std::filesystem::path checkpoint_file(const std::filesystem::path& dir);

// Copies every parameter of `module` from `tensors` (by its dotted name), removing what it used, so
// that what remains is what the caller must judge (ignorable, or an unexpected tensor). A missing
// tensor, a shape mismatch or an integer tensor is an InputError naming `where` and the tensor.
void copy_checkpoint_parameters(torch::nn::Module& module, std::map<std::string, CheckpointTensor>& tensors,
                                const std::string& where);

CausalLM load_causal_lm(const std::filesystem::path& dir, const LoadOptions& options = {});

// Writes dir/config.json and dir/model.safetensors (LoRA adapters are not part of the checkpoint).
void save_causal_lm(const std::filesystem::path& dir, CausalLM& model);

}  // namespace tttlab::lm
