#pragma once
// Training a top-k SAE on feature vectors with the recipe of SaeConfig (paper E.3): Adam with
// warm-up + cosine learning rate, k annealed down to s, dropout on pre-activations, a ghost-gradient
// loss for units that are almost never active, gradient clipping, and decoder columns rescaled to
// unit norm after every step.
//
// Files in the output folder: checkpoint.safetensors (weights, Adam moments, activation counts,
// and in its metadata the step, the config and the metric history) every `checkpoint_every` epochs;
// train_log.txt (one line per epoch); at the end sae.safetensors + sae.json (top_k_sae.hpp).
// Every random draw (the epoch's shuffle, each step's dropout) comes from the seed and the epoch or
// step number, so a run resumed from a checkpoint continues exactly as the uninterrupted run would.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tttlab/sae/sae_config.hpp"
#include "tttlab/sae/top_k_sae.hpp"

namespace tttlab {

struct SaeEpochMetrics {
  int64_t epoch = 0;                  // 1-based
  int64_t step = 0;                   // steps done at the end of the epoch
  double lr = 0;                      // of the epoch's last step
  int64_t k = 0;                      // of the epoch's last step
  double train_mse = 0;               // mean over the epoch's steps (with dropout)
  double ghost_loss = 0;              // mean over the epoch's steps (unweighted)
  int64_t ghost_steps = 0;            // steps of the epoch on which some unit was inactive (the ghost loss was on)
  double eval_mse = 0, eval_fve = 0;  // on the eval rows, no dropout, k of the last step
  double dead_share = 0;              // units never active during the epoch
  double near_dead_share = 0;         // units active in at most dead_threshold of the epoch's samples
  double ghost_share = 0;             // units in the ghost mask at the end of the epoch (cumulative frequency)
  double seconds = 0;
  nlohmann::json to_json() const;
  static SaeEpochMetrics from_json(const nlohmann::json& j);
};

struct SaeTrainOptions {
  std::filesystem::path out_dir;
  bool resume = false;            // continue from out_dir/checkpoint.safetensors if it exists
  int64_t stop_after_epochs = 0;  // > 0: stop (after checkpointing) once this many epochs ran in
                                  // this call, as an interruption would; 0: run to the end
  torch::Device device = torch::kCPU;
  // Skip the per-step read-back of the inactive units when a lower bound on the activation counts,
  // read without waiting, proves there are none (the same steps as without it; false = the plain
  // reference, which reads them back at every step).
  bool bound_inactive_units = true;
  nlohmann::json extra = nlohmann::json::object();  // written into sae.json as well (e.g. preprocessing)
};

struct SaeTrainResult {
  TopKSae sae;                           // on the CPU
  std::vector<SaeEpochMetrics> history;  // every epoch so far, resumed ones included
  bool finished = false;                 // all epochs done (sae.safetensors written)
  // sae_schedule_warnings for the finished run (also printed on stderr and written into sae.json).
  std::vector<std::string> warnings;
};

// One line each, for a run of `steps_run` steps that ended at k = final_k with eval FVE final_fve:
// a warm-up longer than the run, k annealing longer than the run (final_k != cfg.k), FVE below 0.
std::vector<std::string> sae_schedule_warnings(const SaeConfig& cfg, int64_t steps_run, int64_t final_k,
                                               double final_fve);

// x: float [N, d2] finite training features.
SaeTrainResult train_sae(const torch::Tensor& x, const SaeConfig& cfg, const SaeTrainOptions& opts);

// What the checkpoint in `out_dir` was trained with: its config and the `extra` entries of the run's
// SaeTrainOptions (empty for checkpoints written before they were recorded); nothing when there is no
// checkpoint. A resumed run must use exactly these, so a caller can take them instead of asking again.
struct SaeCheckpointSettings {
  SaeConfig config;
  nlohmann::json extra = nlohmann::json::object();
};
std::optional<SaeCheckpointSettings> read_checkpoint_settings(const std::filesystem::path& out_dir);

// One step's objective, exposed for tests. `inactive` is a bool [d1] mask of the units that get the
// ghost loss (undefined or all false: none). dropout > 0 applies training-mode dropout.
struct SaeLoss {
  torch::Tensor total, mse, ghost;  // scalars; ghost is 0 when no unit is inactive
  int64_t ghost_units = 0;          // inactive units that took part in the ghost loss
  SparseCodes codes;
  torch::Tensor reconstruction;
};
SaeLoss sae_loss(const TopKSae& sae, const torch::Tensor& x, int64_t k, double dropout, const torch::Tensor& inactive,
                 double ghost_weight);

}  // namespace tttlab
