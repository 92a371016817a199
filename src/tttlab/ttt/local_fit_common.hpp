#pragma once
// What both local-fit paths share: input checks, neighbour gathering, the result's buffers.
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab {

void check_local_fit_inputs(const LinearHead& head, const LocalFitData& data, const LocalFitConfig& cfg);

// Every entry of `neighbors` (int64) indexes one of n training rows; otherwise an input error that
// starts with `what`.
void check_neighbor_indices(const torch::Tensor& neighbors, int64_t n, const char* what);

// The data with everything the fit reads moved to `device` (no copy where it is there already).
LocalFitData local_fit_data_on(const LocalFitData& data, torch::Device device);

// Neighbour features [M, k, d] and labels [M, k] of the test points rows [begin, end).
struct NeighborBatch {
  torch::Tensor x;  // [B, k, d]
  torch::Tensor y;  // [B, k]
};
NeighborBatch gather_neighbors(const LocalFitData& data, int64_t k, int64_t begin, int64_t end);

// Empty outputs for m test points, C classes, width d (weights/biases only when keep_heads; step_logits
// [logit_steps, m, C] when logit_steps > 0).
LocalFitResult allocate_local_fit_result(int64_t m, int64_t c, int64_t d, const torch::TensorOptions& opts,
                                         bool keep_heads, int64_t logit_steps = 0);

// One batched pass (local_fit_batched) of cfg with steps = the last of `steps` (ascending, from 0),
// returning the test points' logits after each of them, float [S, M, C]: a grid of step counts
// scored from one run (selection/).
torch::Tensor batched_logits_at_steps(const LinearHead& head, const LocalFitData& data, LocalFitConfig cfg,
                                      const std::vector<int64_t>& steps);

// Records the logits of the test points [begin, end) (queries q [B, d]) under the heads (w [B, C, d],
// b [B, C]) into out.step_logits when `step` is one of cfg.logits_at_steps.
void record_step_logits(const LocalFitConfig& cfg, int64_t step, const torch::Tensor& w, const torch::Tensor& b,
                        const torch::Tensor& q, int64_t begin, LocalFitResult& out);

}  // namespace tttlab
