#pragma once
// Majority vote over the nearest neighbours (the paper's non-parametric baseline, Table 5).
#include <cstdint>

#include <torch/torch.h>

namespace tttlab {

struct MajorityVote {
  torch::Tensor pred;   // int64 [M]: the plurality label
  torch::Tensor votes;  // float32 [M, C]: fraction of the used neighbours voting for each class
};

// neighbor_labels: integer [M, k], labels of each test point's neighbours, nearest first.
// Uses the first k_used columns (-1: all k). A tie in the vote count goes to the tied label whose
// first occurrence in the row comes first, i.e. the label of the nearest tied neighbour.
// Throws InputError for labels outside [0, num_classes), k_used outside [1, k] (other than -1),
// num_classes < 1, or a shape other than [M, k >= 1].
MajorityVote majority_vote(const torch::Tensor& neighbor_labels, int64_t num_classes, int64_t k_used = -1);

}  // namespace tttlab
