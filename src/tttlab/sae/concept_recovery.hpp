#pragma once
// Where the true concepts are known (synthetic linear-representation worlds: Psi = A Phi with a
// known concept matrix A and sparse Phi), how well does an SAE recover them?
//   dictionary: for every true concept direction, the best cosine with a decoder column;
//   masks: map every SAE unit to its best-matching true concept, and score a set of units (a
//   learned mask, or a test point's own active units) against the point's true active concepts.
#include <cstdint>

#include <torch/torch.h>

namespace tttlab {

struct DictionaryRecovery {
  torch::Tensor best_cosine;   // double [T]: max over units of cos(A_t, D_u)
  torch::Tensor best_unit;     // int64 [T]
  torch::Tensor unit_concept;  // int64 [d1]: the true concept nearest to each unit
  torch::Tensor unit_cosine;   // double [d1]: its cosine
  double mean = 0, median = 0;
  double share_above_0_9 = 0, share_above_0_7 = 0;
};

// decoder: [d2, d1] (columns = learned concept directions); true_concepts: [T, d2] (rows).
DictionaryRecovery dictionary_recovery(const torch::Tensor& decoder, const torch::Tensor& true_concepts);

// The concept matrix as rows [T, d2], accepting [T, d2] or [d2, T] (columns), given d2.
torch::Tensor concept_rows(const torch::Tensor& matrix, int64_t input_dim, const std::string& what);

// For units (bool [M, d1]) and true codes ([M, T], active = > 0): the units whose best cosine is at
// least min_cosine are mapped to their true concept; per point precision = |mapped ∩ true| /
// |mapped| and recall = |mapped ∩ true| / |true| (double [M]; NaN where a denominator is 0).
struct UnitRecovery {
  torch::Tensor precision, recall;
  double mean_precision = 0, mean_recall = 0;  // over the points where each is defined
};
UnitRecovery unit_recovery(const torch::Tensor& units, const DictionaryRecovery& dict, const torch::Tensor& true_codes,
                           double min_cosine);

}  // namespace tttlab
