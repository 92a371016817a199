#include "tttlab/models/mlp_head.hpp"

#include "tttlab/core/error.hpp"

namespace tttlab {

MlpHeadImpl::MlpHeadImpl(int64_t input_dim, int64_t hidden_dim, int64_t num_classes, double dropout)
    : hidden_dim_(hidden_dim) {
  require_input(input_dim > 0 && hidden_dim > 0 && num_classes > 0,
                "MLP head: sizes must be positive (input {}, hidden {}, classes {})", input_dim, hidden_dim,
                num_classes);
  require_input(dropout >= 0 && dropout < 1, "MLP head: dropout={} (expected in [0, 1))", dropout);
  fc1_ = register_module("fc1", torch::nn::Linear(input_dim, hidden_dim));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
  fc2_ = register_module("fc2", torch::nn::Linear(hidden_dim, num_classes));
}

torch::Tensor MlpHeadImpl::hidden(const torch::Tensor& x) { return torch::relu(fc1_->forward(x)); }

torch::Tensor MlpHeadImpl::forward(const torch::Tensor& x) { return fc2_->forward(dropout_->forward(hidden(x))); }

LinearHead MlpHeadImpl::output_head() const {
  return {fc2_->weight.detach().to(torch::kCPU).clone(), fc2_->bias.detach().to(torch::kCPU).clone()};
}

torch::Tensor mlp_hidden_features(MlpHead& model, const torch::Tensor& x, int64_t batch_size, torch::Device device) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  model->to(device);
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < x.size(0); s += batch_size) {
    const auto xb = x.slice(0, s, std::min(x.size(0), s + batch_size)).to(device, torch::kFloat);
    parts.push_back(model->hidden(xb).to(torch::kCPU));
  }
  model->to(torch::kCPU);
  model->train(was_training);
  return parts.empty() ? torch::empty({0, model->hidden_dim()}) : torch::cat(parts);
}

}  // namespace tttlab
