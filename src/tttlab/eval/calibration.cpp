#include "tttlab/eval/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tttlab/core/error.hpp"
#include "tttlab/core/shape.hpp"
#include "tttlab/eval/metrics.hpp"

namespace tttlab {

namespace {

// probs [n, C] floating, labels integer [n] in [0, C), n >= 1. Returns the labels as int64.
torch::Tensor checked_labels(const torch::Tensor& probs, const torch::Tensor& labels) {
  require_input(probs.defined() && probs.dim() == 2 && probs.is_floating_point(),
                "calibration: probabilities must be a floating-point [n, C] tensor, got {}",
                probs.defined() ? shape_string(probs.sizes()) : std::string("undefined"));
  require_input(
      labels.defined() && labels.dim() == 1 && !labels.is_floating_point() && labels.scalar_type() != torch::kBool,
      "calibration: labels must be integer [n]");
  require_input(probs.size(0) == labels.size(0), "calibration: {} rows of probabilities for {} labels", probs.size(0),
                labels.size(0));
  require_input(probs.size(0) >= 1 && probs.size(1) >= 1, "calibration: no points or no classes (shape {})",
                shape_string(probs.sizes()));
  const auto y = labels.to(torch::kCPU, torch::kLong);
  const int64_t lo = y.min().item<int64_t>(), hi = y.max().item<int64_t>();
  require_input(lo >= 0 && hi < probs.size(1), "calibration: labels must be in [0, {}), got values in [{}, {}]",
                probs.size(1), lo, hi);
  return y;
}

}  // namespace

double expected_calibration_error(const torch::Tensor& probs, const torch::Tensor& labels, int64_t bins) {
  require_input(bins >= 1, "calibration: {} bins (expected at least 1)", bins);
  const auto y = checked_labels(probs, labels);
  const auto [conf_t, pred_t] = probs.to(torch::kCPU, torch::kDouble).max(1);
  const auto conf = conf_t.contiguous(), hit = pred_t.eq(y).to(torch::kDouble).contiguous();
  const int64_t n = conf.size(0);
  const double* c = conf.data_ptr<double>();
  const double* h = hit.data_ptr<double>();
  std::vector<double> count(bins, 0), sum_conf(bins, 0), sum_hit(bins, 0);
  for (int64_t i = 0; i < n; ++i) {
    // (b/bins, (b+1)/bins] -> b: ceil(c * bins) - 1, with 0 (and rounding below it) kept in bin 0.
    const auto b =
        std::clamp<int64_t>(static_cast<int64_t>(std::ceil(c[i] * static_cast<double>(bins))) - 1, 0, bins - 1);
    count[b] += 1;
    sum_conf[b] += c[i];
    sum_hit[b] += h[i];
  }
  double ece = 0;
  for (int64_t b = 0; b < bins; ++b) {
    if (count[b] > 0) ece += std::abs(sum_hit[b] - sum_conf[b]) / static_cast<double>(n);
  }
  return ece;
}

torch::Tensor per_point_brier(const torch::Tensor& probs, const torch::Tensor& labels) {
  const auto y = checked_labels(probs, labels);
  const auto p = probs.to(torch::kCPU, torch::kDouble);
  const auto onehot = torch::zeros_like(p).scatter_(1, y.unsqueeze(1), 1.0);
  return (p - onehot).pow(2).sum(1);
}

double brier_score(const torch::Tensor& probs, const torch::Tensor& labels) {
  return tttlab::mean(per_point_brier(probs, labels));
}

}  // namespace tttlab
