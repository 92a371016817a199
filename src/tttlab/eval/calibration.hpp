#pragma once
// Calibration of predicted probabilities against labels, in float64: how far a method's confidence
// is from its accuracy (expected calibration error) and the Brier score. The negative log-likelihood
// is the mean of per_point_cross_entropy (eval/metrics.hpp).
#include <cstdint>

#include <torch/torch.h>

namespace tttlab {

// Expected calibration error with `bins` equal-width confidence bins: each point's confidence is its
// largest probability and its prediction that class (the first one on a tie); bin b holds the
// confidences in (b/bins, (b+1)/bins] (a confidence of 0 goes to bin 0), and
//   ECE = sum over bins of |B_b| / n * |accuracy(B_b) - mean confidence(B_b)|.
// probs: float [n, C], rows of probabilities; labels: integer [n] in [0, C); n >= 1.
double expected_calibration_error(const torch::Tensor& probs, const torch::Tensor& labels, int64_t bins = 15);

// Per-point squared error of the probability vector against the one-hot label,
// sum_c (p_c - [c == y])^2: double [n], each value in [0, 2].
torch::Tensor per_point_brier(const torch::Tensor& probs, const torch::Tensor& labels);

// Brier score: the mean of per_point_brier over the n >= 1 points.
double brier_score(const torch::Tensor& probs, const torch::Tensor& labels);

}  // namespace tttlab
