#pragma once
// The paper's concept-space observations as functions of per-point arrays:
//   O1 (Figure 2): for every test point, the mean cosine similarity in concept space between the
//       point and its k neighbours, where the neighbours may have been chosen in any space;
//   O3 (Figure 3, E.1): how closely two TTT models' predictive distributions agree after a
//       per-point temperature calibration: agreement of the predictions, and the relative total
//       variation at each of the top ranks.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "tttlab/eval/bootstrap.hpp"

namespace tttlab {

// mean_i cos(concepts_test[j], concepts_train[neighbors[j, i]]) over the first k neighbours: double [M].
// A zero vector has cosine 0 with everything.
torch::Tensor mean_neighbor_cosine(const torch::Tensor& concepts_train, const torch::Tensor& concepts_test,
                                   const torch::Tensor& neighbors, int64_t k);

// Per point, the temperature t > 0 that minimises KL(softmax(reference_logits) || softmax(logits / t))
// (convex in 1/t; golden-section search on 1/t in [1e-3, 1e3], to 1e-9 relative): double [M].
torch::Tensor calibrate_temperatures(const torch::Tensor& reference_logits, const torch::Tensor& logits);

// The range that search covers. A fit that ends at either end is clamped there: the KL still fell
// beyond it (e.g. a nearly uniform reference drives t to infinity), so the value is a bound and not an
// estimate, and a few of them dominate a mean.
inline constexpr double kMinCalibrationTemperature = 1e-3;
inline constexpr double kMaxCalibrationTemperature = 1e3;

// Temperatures summarised robustly: the median over all fits, and how many were clamped at each end.
struct TemperatureSummary {
  int64_t n = 0;
  double median = 0;
  int64_t at_lower_bound = 0, at_upper_bound = 0;
};
TemperatureSummary summarize_temperatures(const torch::Tensor& temperatures);

// O3 for reference (Psi-hat TTT) vs other (masked Phi-hat TTT) logits [M, C]:
//   ranks: for each point the top `top` classes of the calibrated other distribution,
//   p_other[j, i] its calibrated probability at rank i, p_reference[j, i] the reference model's
//   probability of the same class;
//   rel_tv[i] = mean_j |p_ref - p_other| / (0.5 (mean_j p_ref + mean_j p_other))   (E.1);
//   agreement = share of points whose argmax predictions agree.
// CIs: percentile bootstrap over test points (the ratio recomputed on every resample).
struct ProbabilityAgreement {
  int64_t top = 0;
  torch::Tensor temperatures;          // double [M]
  torch::Tensor p_reference, p_other;  // double [M, top]
  std::vector<double> rel_tv;          // [top]
  std::vector<Interval> rel_tv_ci;
  std::vector<double> mean_reference, mean_other;  // mean probability at each rank
  std::vector<Interval> mean_reference_ci, mean_other_ci;
  double agreement = 0;
  Interval agreement_ci;
};
ProbabilityAgreement probability_agreement(const torch::Tensor& reference_logits, const torch::Tensor& other_logits,
                                           int64_t top, const BootstrapConfig& bootstrap);

}  // namespace tttlab
