#pragma once
// metrics -> one row per method: accuracy with its bootstrap CI, mean cross-entropy (the NLL) and
// calibration (ECE, Brier) where the method has probabilities, and paired comparisons against the
// global head.
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tttlab/eval/bootstrap.hpp"

namespace tttlab {

struct MethodSummary {
  std::string name;
  double accuracy = 0;
  Interval ci;                    // bootstrap CI of the accuracy
  std::optional<double> mean_ce;  // NLL; absent for methods without probabilities (majority vote)
  std::optional<double> ece;      // expected calibration error, 15 bins (eval/calibration.hpp); same
  std::optional<double> brier;    // Brier score; same
  int64_t n = 0;
};

struct Comparison {
  std::string name;  // "ttt - global"
  double accuracy_diff = 0;
  Interval ci;  // paired bootstrap CI of the difference
  // Difference in mean cross-entropy (NLL) and its paired bootstrap CI, when both methods have it.
  std::optional<double> nll_diff{};
  std::optional<Interval> nll_ci{};
};

struct Summary {
  std::vector<MethodSummary> methods;
  std::vector<Comparison> comparisons;
};

struct MethodPredictions {
  std::string name;
  torch::Tensor pred;  // int64 [M]
  torch::Tensor ce;    // double [M] or undefined
  // float32 [M, C] class probabilities, or undefined (majority vote). Its own initialiser lets the
  // studies that have none write {name, pred, ce}.
  torch::Tensor probs{};
};

// Every method against `labels`; comparisons "<method> - <baseline>" for every other method.
Summary summarize(const std::vector<MethodPredictions>& methods, const torch::Tensor& labels,
                  const BootstrapConfig& cfg, const std::string& baseline = "global");

}  // namespace tttlab
