#pragma once
// A linear classification head: logits = x W^T + b, W [C, d], b [C]. Saved as safetensors with the
// tensor names of a torch.nn.Linear state dict ("weight", "bias"), so heads move to and from Python.
#include <cstdint>
#include <filesystem>

#include <torch/torch.h>

namespace tttlab {

struct LinearHead {
  torch::Tensor weight;  // [C, d]
  torch::Tensor bias;    // [C]

  int64_t num_classes() const { return weight.size(0); }
  int64_t dim() const { return weight.size(1); }
  torch::Tensor logits(const torch::Tensor& x) const { return torch::addmm(bias, x, weight.t()); }
};

LinearHead head_from_linear(const torch::nn::Linear& linear);  // detached float32 copies

void save_head(const std::filesystem::path& path, const LinearHead& head);

// Loads and checks the shapes against the data: weight [num_classes, dim], bias [num_classes].
// expected_* = -1 skips that check. Errors (InputError) name the file, the tensor and the shapes.
LinearHead load_head(const std::filesystem::path& path, int64_t expected_classes = -1, int64_t expected_dim = -1);

}  // namespace tttlab
