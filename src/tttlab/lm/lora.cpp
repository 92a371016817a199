#include "tttlab/lm/lora.hpp"

#include <algorithm>
#include <cmath>

#include "tttlab/core/error.hpp"

namespace tttlab::lm {

namespace {

// projections() lists each layer's projections in this order.
const std::vector<std::string> kProjectionNames = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                   "gate_proj", "up_proj", "down_proj"};

}  // namespace

void LoraConfig::validate() const {
  require_input(rank >= 1, "LoRA rank={} (expected >= 1)", rank);
  require_input(std::isfinite(alpha) && alpha > 0, "LoRA alpha={} (expected > 0)", alpha);
  require_input(dropout >= 0 && dropout < 1, "LoRA dropout={} (expected in [0, 1))", dropout);
  require_input(!targets.empty(), "LoRA needs at least one target projection");
  for (const auto& t : targets) {
    require_input(std::find(kProjectionNames.begin(), kProjectionNames.end(), t) != kProjectionNames.end(),
                  "LoRA target '{}' is not a decoder projection (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
                  "down_proj)",
                  t);
  }
}

void LoraTrainConfig::validate() const {
  require_input(std::isfinite(lr) && lr > 0, "LoRA lr={} (expected > 0)", lr);
  require_input(std::isfinite(eps) && eps > 0, "Adam eps={} (expected > 0)", eps);
  require_input(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "Adam betas ({}, {}) (expected in [0, 1))", beta1,
                beta2);
  require_input(weight_decay >= 0, "weight decay={} (expected >= 0)", weight_decay);
  require_input(max_grad_norm >= 0, "max gradient norm={} (expected >= 0; 0 = no clipping)", max_grad_norm);
  require_input(max_length >= 2, "max sequence length={} (expected >= 2)", max_length);
}

void add_lora(CausalLM& model, const LoraConfig& cfg, uint64_t seed) {
  cfg.validate();
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  const auto projections = model->projections();
  for (size_t i = 0; i < projections.size(); ++i) {
    const auto& name = kProjectionNames[i % kProjectionNames.size()];
    if (std::find(cfg.targets.begin(), cfg.targets.end(), name) == cfg.targets.end()) continue;
    auto proj = projections[i];
    require_input(!proj->has_lora(), "the model already carries LoRA adapters");
    proj->add_lora(cfg.rank, cfg.alpha, cfg.dropout);
    proj->reset_lora(seed + i);
  }
}

std::vector<torch::Tensor> lora_parameters(CausalLM& model) {
  std::vector<torch::Tensor> out;
  for (auto& proj : model->projections()) {
    if (!proj->has_lora()) continue;
    out.push_back(proj->lora_a);
    out.push_back(proj->lora_b);
  }
  return out;
}

int64_t count_parameters(const std::vector<torch::Tensor>& params) {
  int64_t n = 0;
  for (const auto& p : params) n += p.numel();
  return n;
}

LoraTrainer::LoraTrainer(CausalLM model, LoraTrainConfig cfg) : model_(std::move(model)), cfg_(cfg) {
  cfg_.validate();
  params_ = lora_parameters(model_);
  require_input(!params_.empty(), "LoRA training needs a model with adapters (add_lora)");
  reset();
}

void LoraTrainer::reset() {
  auto projections = model_->projections();
  for (size_t i = 0; i < projections.size(); ++i) {
    if (projections[i]->has_lora()) projections[i]->reset_lora(cfg_.seed + i);
  }
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  optimizer_ = std::make_unique<torch::optim::Adam>(
      params_,
      torch::optim::AdamOptions(cfg_.lr).betas({cfg_.beta1, cfg_.beta2}).eps(cfg_.eps).weight_decay(cfg_.weight_decay));
  steps_ = 0;
}

double LoraTrainer::step(const torch::Tensor& ids) {
  require_input(ids.dim() == 2 && ids.size(0) == 1 && ids.size(1) >= 2 && ids.size(1) <= cfg_.max_length,
                "a LoRA step takes token ids [1, T] with 2 <= T <= {}", cfg_.max_length);
  model_->train();
  optimizer_->zero_grad();
  const auto loss = next_token_loss(model_, ids);
  loss.backward();
  if (cfg_.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params_, cfg_.max_grad_norm);
  optimizer_->step();
  model_->eval();
  ++steps_;
  return loss.item<double>();
}

std::vector<double> LoraTrainer::train_on_tokens(const std::vector<int64_t>& tokens) {
  std::vector<double> losses;
  const auto device = params_.front().device();
  for (size_t begin = 0; begin < tokens.size(); begin += static_cast<size_t>(cfg_.max_length)) {
    const size_t end = std::min(tokens.size(), begin + static_cast<size_t>(cfg_.max_length));
    if (end - begin < 2) continue;
    const std::vector<int64_t> chunk(tokens.begin() + static_cast<std::ptrdiff_t>(begin),
                                     tokens.begin() + static_cast<std::ptrdiff_t>(end));
    const auto ids = torch::tensor(chunk, torch::kLong).unsqueeze(0).to(device);
    losses.push_back(step(ids));
  }
  return losses;
}

}  // namespace tttlab::lm
