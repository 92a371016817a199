#pragma once
// Per-point adaptivity (beyond the paper; its open question of choosing the neighbourhood per
// point): every test point chooses its own (k, steps) from a grid, scored by leave-one-out on its
// own neighbourhood. For each of its `holdouts` nearest neighbours j, TTT is fit on the point's k
// neighbours without j and predicts j. A point leaves the default (k, steps) (the single tuned
// setting) only for a (k, steps) that gets strictly more held-out neighbours right; among several
// such, the most right wins, then the lower held-out cross-entropy, then fewer steps, then smaller k.
// With a few held-out neighbours most settings tie, and choosing among ties by their noisy
// cross-entropy lost 4-6 pp to the tuned setting on the lrh worlds of docs/selection.md; the
// default keeps the point's prediction unless its neighbourhood shows evidence against it.
// No label of the test point is used.
//
// Cost: for every k of the grid, (holdouts + 1) batched TTT passes of the grid's largest step
// count (every step count of the grid is read off the same pass, as in grid_search.hpp).
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "tttlab/models/linear_head.hpp"
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab {

struct AdaptiveConfig {
  std::vector<int64_t> ks{10, 20, 50, 100, 200};  // each >= 2 (one neighbour is held out)
  std::vector<int64_t> steps{0, 10, 25, 50, 100, 200};
  int64_t holdouts = 3;  // nearest neighbours held out one at a time
  // The setting a point keeps unless another gets more held-out neighbours right (0 = none: every
  // setting competes on equal terms). Must be in the grids when set.
  int64_t default_k = 0, default_steps = 0;

  void validate(int64_t neighbours_available) const;  // InputError for a value out of range
};

struct AdaptiveResult {
  torch::Tensor pred;          // int64 [M]
  torch::Tensor logits;        // float [M, C]
  torch::Tensor ce;            // double [M] (when test labels are given)
  torch::Tensor chosen_k;      // int64 [M]
  torch::Tensor chosen_steps;  // int64 [M]
  double flops_per_point = 0;  // TTT arithmetic per test point: 6 k C d per step, over every pass run
};

// data.neighbors must hold at least max(ks) columns. Every other TTT setting (lr, mode, Adam's
// betas, device, memory) comes from `base`.
AdaptiveResult adaptive_local_fit(const LinearHead& head, const LocalFitData& data, const AdaptiveConfig& cfg,
                                  const LocalFitConfig& base);

// TTT's arithmetic for one point: 6 k C d flops per full-batch step (logits, gradient, update).
double ttt_flops_per_point(int64_t k, int64_t steps, int64_t num_classes, int64_t dim);

}  // namespace tttlab
