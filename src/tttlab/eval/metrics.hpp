#pragma once
// Per-point metrics of predictions against labels, in float64.
#include <torch/torch.h>

namespace tttlab {

// 1.0 where pred == y, else 0.0: double [n]. pred, y: integer [n] (same length).
torch::Tensor correct(const torch::Tensor& pred, const torch::Tensor& y);

// Fraction of correct predictions.
double accuracy(const torch::Tensor& pred, const torch::Tensor& y);

// -log softmax(logits)[i, y_i] per point: double [n]. logits: [n, C], y: integer [n] in [0, C).
// Numerically stable (log_softmax in float64).
torch::Tensor per_point_cross_entropy(const torch::Tensor& logits, const torch::Tensor& y);

// Mean of a non-empty tensor, in float64. Call it as tttlab::mean(x): for a torch::Tensor argument,
// argument-dependent lookup also finds at::mean, so an unqualified mean(x) is ambiguous.
double mean(const torch::Tensor& values);

}  // namespace tttlab
