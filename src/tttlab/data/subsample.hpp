#pragma once
// Class-balanced subsamples of a training set (Figure 5, left: "explicitly ensuring a uniform
// distribution across the class labels").
#include <cstdint>

#include <torch/torch.h>

#include "tttlab/data/dataset.hpp"

namespace tttlab {

// Rows of a subsample of `labels` (int64 [N], values in 0..num_classes-1) with the same number of
// rows of every class, m = max(1, round(fraction * N / num_classes)), drawn without replacement by
// a seeded shuffle of each class's rows (std::mt19937_64(seed), Fisher-Yates as in the MNIST split);
// returned in ascending order. fraction == 1 returns every row (the full set, balanced or not).
// InputError for a fraction outside (0, 1], or when a class has fewer than m rows.
torch::Tensor class_balanced_rows(const torch::Tensor& labels, int64_t num_classes, double fraction, uint64_t seed);

// The data set with its training split replaced by that subsample (test split unchanged).
Dataset with_class_balanced_train(const Dataset& data, double fraction, uint64_t seed);

// A stratified, seeded hold-out: of every class with n_c >= 2 rows, round(fraction * n_c) rows (at
// least 1, at most n_c - 1) go to the hold-out, drawn by the same seeded per-class shuffle as above;
// classes with one row stay in training. Both row lists ascending. InputError for a fraction outside
// (0, 0.5], or when no row would be held out.
struct HoldoutRows {
  torch::Tensor keep, holdout;  // int64
};
HoldoutRows stratified_holdout_rows(const torch::Tensor& labels, int64_t num_classes, double fraction, uint64_t seed);

// The data set with `fraction` of its training split held out (stratified, seeded) as its val split;
// the test split unchanged.
Dataset with_holdout_validation(const Dataset& data, double fraction, uint64_t seed);

}  // namespace tttlab
