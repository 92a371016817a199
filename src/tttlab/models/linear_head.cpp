#include "tttlab/models/linear_head.hpp"

#include "tttlab/core/error.hpp"
#include "tttlab/io/pytorch_pickle.hpp"
#include "tttlab/io/safetensors.hpp"

namespace tttlab {

LinearHead head_from_linear(const torch::nn::Linear& linear) {
  return {linear->weight.detach().to(torch::kFloat32).clone(), linear->bias.detach().to(torch::kFloat32).clone()};
}

void save_head(const std::filesystem::path& path, const LinearHead& head) {
  write_safetensors(path, {{"weight", head.weight.detach().to(torch::kCPU).contiguous()},
                           {"bias", head.bias.detach().to(torch::kCPU).contiguous()}});
}

LinearHead load_head(const std::filesystem::path& path, int64_t expected_classes, int64_t expected_dim) {
  if (const PytorchPickle kind = pytorch_pickle_kind(path); kind != PytorchPickle::None) {
    throw_input_error(
        "{}: this is a PyTorch pickle ({}), and tttlab never loads pickles (loading one can run arbitrary code); "
        "convert it to safetensors with: python -c \"import torch; from safetensors.torch import save_file; "
        "sd = torch.load('{}'); save_file({{'weight': sd['weight'], 'bias': sd['bias']}}, 'head.safetensors')\"",
        path.string(), kind == PytorchPickle::Zip ? "torch.save's zip format" : "torch.save's legacy format",
        path.string());
  }
  const SafetensorsFile file = read_safetensors(path);
  LinearHead head;
  head.weight = require_tensor(file, path, "weight", {expected_classes, expected_dim});
  require_input(head.weight.dim() == 2, "{}: tensor 'weight' has {} dimensions, expected 2 ([classes, dim])",
                path.string(), head.weight.dim());
  head.bias = require_tensor(file, path, "bias", {head.weight.size(0)});
  require_input(head.weight.is_floating_point() && head.bias.is_floating_point(),
                "{}: 'weight' and 'bias' must be floating point", path.string());
  head.weight = head.weight.to(torch::kFloat32).contiguous();
  head.bias = head.bias.to(torch::kFloat32).contiguous();
  require_input(torch::isfinite(head.weight).all().item<bool>() && torch::isfinite(head.bias).all().item<bool>(),
                "{}: head contains NaN or Inf", path.string());
  return head;
}

}  // namespace tttlab
