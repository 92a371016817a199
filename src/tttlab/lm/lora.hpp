#pragma once
// LoRA on a decoder LM (Hu et al., 2022; the paper's E.7 uses rank 64, Adam lr 2e-4, eps 1e-8):
// low-rank adapters on the chosen projections, the base weights frozen, one Adam step per chunk of
// text, and a reset that returns the model to its base function between test sequences without
// reloading it (A back to its seeded initialisation, B = 0, the optimiser's moments cleared).
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tttlab/lm/decoder_model.hpp"

namespace tttlab::lm {

struct LoraConfig {
  int64_t rank = 64;
  double alpha = 64;  // scale alpha / rank; E.7 does not state alpha, so the scale defaults to 1
  double dropout = 0.0;
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  void validate() const;
};

// Adds adapters to every targeted projection and freezes every other parameter.
void add_lora(CausalLM& model, const LoraConfig& cfg, uint64_t seed);
std::vector<torch::Tensor> lora_parameters(CausalLM& model);
int64_t count_parameters(const std::vector<torch::Tensor>& params);

struct LoraTrainConfig {
  double lr = 2e-4, eps = 1e-8, beta1 = 0.9, beta2 = 0.999, weight_decay = 0.0;
  double max_grad_norm = 1.0;  // clip the adapters' global gradient norm (0: no clipping)
  int64_t max_length = 1024;   // longer texts are cut into chunks of this many tokens, one step each
  uint64_t seed = 0;           // adapter initialisation (and reset)
  void validate() const;
};

class LoraTrainer {
 public:
  // The model must already carry adapters (add_lora).
  LoraTrainer(CausalLM model, LoraTrainConfig cfg);
  // One Adam step on the mean next-token loss of ids [1, T] (2 <= T <= max_length); returns the loss
  // before the step.
  double step(const torch::Tensor& ids);
  // One step per chunk of max_length tokens (a chunk shorter than 2 tokens is skipped); the losses.
  std::vector<double> train_on_tokens(const std::vector<int64_t>& tokens);
  void reset();
  int64_t steps_taken() const { return steps_; }

 private:
  CausalLM model_;
  LoraTrainConfig cfg_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  int64_t steps_ = 0;
};

}  // namespace tttlab::lm
