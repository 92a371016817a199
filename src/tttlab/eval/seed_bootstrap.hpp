#pragma once
// Confidence intervals across seeds (the paper's E.4: "200 bootstrap iterations per seed").
// Each configuration run with one seed resamples its test points `resamples` times, drawing one set
// of indices for all of its per-point columns (so that differences between methods stay paired).
// Over S seeds, a quantity's estimate is the mean of the S per-seed values and its CI the percentile
// interval of the S x resamples pooled resampled values: it carries both the test-set noise and
// the spread between seeds.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "tttlab/eval/bootstrap.hpp"

namespace tttlab {

// The means of `resamples` bootstrap resamples of every column (each 1-D, all of the same length
// n > 0, finite): result[c][r]. Resample r draws n indices with std::mt19937_64(seed) and
// uniform_index, in the order bootstrap_ci draws them, so one column's percentiles equal
// bootstrap_ci with the same seed (tested).
std::vector<std::vector<double>> resampled_means(const std::vector<torch::Tensor>& columns, int resamples,
                                                 uint64_t seed);

struct SeedEstimate {
  double mean = 0;  // mean over seeds of the per-seed values
  Interval ci;      // percentiles of the pooled resampled values
  int64_t seeds = 0;
};

// per_seed[s]: the value with seed s; resampled[s]: its resampled values (non-empty, finite).
SeedEstimate estimate_across_seeds(const std::vector<double>& per_seed,
                                   const std::vector<std::vector<double>>& resampled, double level);

}  // namespace tttlab
