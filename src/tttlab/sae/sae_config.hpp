#pragma once
// Every knob of the top-k sparse autoencoder and its training recipe. Defaults are the paper's
// (Appendix E.3, ImageNet CLIP embeddings): d1 = 8 d2, s = k = 16 annealed from 128 over 10k steps,
// Adam lr 3e-4 with 5k linear warm-up then cosine decay, ghost-gradient loss (weight 1e6) for units
// active in at most 1e-4 of the samples seen, dropout 0.5 on pre-activations, unit-norm decoder
// columns, decoder initialised as the encoder's transpose, gradient-norm clip 1.0, batch 4096,
// 100 epochs, no biases (paper section 3.1).
#include <cstdint>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tttlab {

struct SaeConfig {
  // shape
  int64_t latent_dim = 0;  // d1; 0 = expansion * d2
  int64_t expansion = 8;   // d1 = expansion * d2 when latent_dim is 0
  int64_t k = 16;          // s: active concepts per input at the end of the annealing
  int64_t k_start = 128;   // k at step 0 (clamped to d1), lowered linearly to k
  int64_t k_anneal_steps = 10000;
  bool relu = true;       // keep only positive top-k values (Gao et al.), so Phi-hat >= 0
  bool pre_bias = false;  // learn b (initialised to the data mean): encode x - b, decode + b
  // optimisation
  int64_t epochs = 100;
  int64_t batch_size = 4096;
  double lr = 3e-4;
  int64_t warmup_steps = 5000;  // linear warm-up to lr
  int64_t cosine_horizon = 0;   // T of the cosine decay (E.3: 1e5); 0 = the run's total steps
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  double grad_clip = 1.0;        // max global gradient norm; 0 = no clipping
  double dropout = 0.5;          // on the pre-activations E x, before top-k (training only)
  double ghost_weight = 1e6;     // weight of the ghost-gradient loss; 0 = off
  double dead_threshold = 1e-4;  // a unit is "almost inactive" when its activation frequency <= this
  // Samples over which that frequency is measured: 0 = every sample since the start (E.3's
  // definition; a unit that was busy early and died later stays above the threshold for a long
  // time); N > 0 = an exponential moving average with weight batch/N per step (about the last N).
  int64_t dead_window = 0;
  // bookkeeping
  uint64_t seed = 0;
  int64_t checkpoint_every = 1;  // epochs between checkpoints
  int64_t eval_rows = 65536;     // rows of the training set scored after each epoch (0 = all)

  int64_t latent_for(int64_t input_dim) const { return latent_dim > 0 ? latent_dim : expansion * input_dim; }
  // k of step `step` (0-based): k_start - (k_start - k) * min(1, step / k_anneal_steps), rounded.
  int64_t k_at(int64_t step, int64_t latent) const;
  // Learning rate of step `step` (0-based) in a run of `total_steps` steps.
  double lr_at(int64_t step, int64_t total_steps) const;

  void validate(int64_t input_dim) const;  // InputError naming the knob
  nlohmann::json to_json() const;
  static SaeConfig from_json(const nlohmann::json& j);  // InputError on a missing or bad field
};

}  // namespace tttlab
