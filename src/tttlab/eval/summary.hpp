#pragma once
// metrics -> one row per method: accuracy with its bootstrap CI, mean cross-entropy, and paired
// comparisons against the global head.
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
  std::optional<double> mean_ce;  // absent for methods without probabilities (majority vote)
  int64_t n = 0;
};

struct Comparison {
  std::string name;  // "ttt - global"
  double accuracy_diff = 0;
  Interval ci;  // paired bootstrap CI of the difference
};

struct Summary {
  std::vector<MethodSummary> methods;
  std::vector<Comparison> comparisons;
};

struct MethodPredictions {
  std::string name;
  torch::Tensor pred;  // int64 [M]
  torch::Tensor ce;    // double [M] or undefined
};

// Every method against `labels`; comparisons "<method> - <baseline>" for every other method.
Summary summarize(const std::vector<MethodPredictions>& methods, const torch::Tensor& labels,
                  const BootstrapConfig& cfg, const std::string& baseline = "global");

}  // namespace tttlab
