#pragma once
// Hugging Face checkpoints of Qwen2 models: a folder with config.json and either model.safetensors
// or model.safetensors.index.json plus its shards (as transformers' save_pretrained writes them).
// Loading checks every tensor: a missing tensor, a shape mismatch, an unexpected tensor or an
// unsupported architecture is an InputError naming the file and the tensor. Saving writes the same
// layout (safetensors metadata format=pt), so transformers' from_pretrained loads our models.
#include <filesystem>
#include <optional>

#include <torch/torch.h>

#include "tttlab/lm/qwen2_model.hpp"

namespace tttlab::lm {

struct LoadOptions {
  std::optional<torch::ScalarType> dtype;  // default: float32
  torch::Device device = torch::kCPU;
};

Qwen2ForCausalLM load_qwen2(const std::filesystem::path& dir, const LoadOptions& options = {});

// Writes dir/config.json and dir/model.safetensors (LoRA adapters are not part of the checkpoint).
void save_qwen2(const std::filesystem::path& dir, Qwen2ForCausalLM& model);

}  // namespace tttlab::lm
