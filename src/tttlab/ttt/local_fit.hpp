#pragma once
// Local fit (the TTT engine): for every test point, start from the global linear head, fine-tune it
// with Adam on the point's k nearest training neighbours, predict the point with the adapted head,
// and reset. Two paths compute the same thing:
//   local_fit_reference  one test point at a time, autograd + torch::optim::Adam (the plain
//                        protocol, kept as the ground truth);
//   local_fit_batched    B test points as one [B, C, d] problem: analytic gradient
//                        (softmax - onehot)^T X / k and an Adam update with per-point state, so
//                        every point follows the trajectory it would follow alone.
// Tests check that the two agree (adapted weights to 1e-5 relative).
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tttlab/models/linear_head.hpp"

namespace tttlab {

enum class LocalFitMode {
  Erm,         // every step: full batch over the k neighbours (the paper's image protocol)
  Sequential,  // step t: one neighbour, number (t mod k), nearest first (the LM protocol; steps = k
               // gives exactly one step per neighbour)
};

std::string to_string(LocalFitMode mode);
LocalFitMode local_fit_mode_from_string(const std::string& name);  // "erm" | "sequential"

// Which computation a local fit runs. Results name it (results.json's config.local_fit_path), and the
// equivalence tests run every one the build has against the reference.
enum class LocalFitPath {
  Reference,      // local_fit_reference: autograd + torch::optim::Adam, one point at a time
  BatchedCpu,     // local_fit_batched on the CPU: analytic gradient, fused CPU Adam pass
  BatchedCuda,    // local_fit_batched on CUDA with LibTorch's element-wise ops (fused off, or not float32)
  Fused,          // the fused CUDA gradient + Adam kernel, W's first moment stored
  FusedRowSpace,  // the fused kernel with W's first moment in the neighbours' row space (ERM, no weight decay)
};

// "reference", "batched-cpu", "batched-cuda", "fused", "fused-rowspace".
std::string to_string(LocalFitPath path);

struct LocalFitConfig {
  int64_t k = 100;      // neighbours per test point
  int64_t steps = 100;  // Adam steps per test point
  double lr = 0.1;
  double weight_decay = 0.0;  // L2 term added to the gradient, as torch.optim.Adam does
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  LocalFitMode mode = LocalFitMode::Erm;
  // Where the heads train: the CPU or a CUDA device. Inputs may live anywhere; results come back
  // on the CPU.
  torch::Device device = torch::kCPU;
  // On CUDA with float32, the batched path uses the fused gradient + Adam kernel (fused_step.hpp);
  // false keeps LibTorch's element-wise ops (the kernel's reference).
  bool fused = true;
  // Batched path: test points solved together; 0 = as many as fit in the memory budget.
  int64_t points_per_batch = 0;
  // Memory for one batch; 0 = automatic: on the CPU 16 MiB, small enough that a batch's head state
  // stays in cache (bench_ttt_cpu: C=1000 heads ran ~1.4x faster one per batch than 48 per batch);
  // on CUDA 70% of the memory free when the call starts, so that no setting runs out of memory.
  int64_t memory_budget_bytes = 0;
  bool keep_heads = false;  // return every adapted head (M x C x d floats: mind the size)
  // Also return the test point's logits after each of these step counts (ascending, each in
  // 0..steps; 0 = the global head). Adam has no schedule, so the first s steps of a longer run are
  // exactly an s-step run: one pass with steps = max scores a whole grid of step counts (selection).
  std::vector<int64_t> logits_at_steps;

  int64_t effective_memory_budget() const;  // resolves 0 = automatic

  void validate() const;  // InputError on a value out of range
};

// The k nearest neighbours of each test point, as rows of the training set.
struct LocalFitData {
  torch::Tensor train_x;    // float [N, d]
  torch::Tensor train_y;    // int64 [N]
  torch::Tensor test_x;     // float [M, d]
  torch::Tensor test_y;     // int64 [M], or undefined (then no cross-entropy)
  torch::Tensor neighbors;  // int64 [M, >= k], nearest first; the first k are used
};

struct LocalFitResult {
  torch::Tensor pred;     // int64 [M]
  torch::Tensor logits;   // float [M, C], adapted head on the test point
  torch::Tensor ce;       // double [M], cross-entropy of the true label (if test_y given)
  torch::Tensor weights;  // float [M, C, d] adapted weights (keep_heads only)
  torch::Tensor biases;   // float [M, C]
  torch::Tensor step_logits;  // float [S, M, C]: logits after cfg.logits_at_steps[s] steps (if asked)
};

LocalFitResult local_fit_reference(const LinearHead& head, const LocalFitData& data, const LocalFitConfig& cfg);
LocalFitResult local_fit_batched(const LinearHead& head, const LocalFitData& data, const LocalFitConfig& cfg);

// The path local_fit_batched takes for heads of `dtype` under cfg (its device, fused flag, mode and
// weight decay) in this build.
LocalFitPath local_fit_path(const LocalFitConfig& cfg, torch::ScalarType dtype);

// Test points per batch for the batched path under cfg.effective_memory_budget() (at least 1).
int64_t local_fit_points_per_batch(int64_t num_classes, int64_t dim, int64_t k, int64_t element_size,
                                   const LocalFitConfig& cfg);

}  // namespace tttlab
