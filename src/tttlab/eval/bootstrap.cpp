#include "tttlab/eval/bootstrap.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "tttlab/core/error.hpp"
#include "tttlab/core/shape.hpp"

namespace tttlab {

namespace {

std::vector<double> to_vector(const torch::Tensor& t, const char* what) {
  require_input(t.defined(), "bootstrap: {} is undefined", what);
  require_input(t.dim() == 1, "bootstrap: {} must be a 1-D [n] tensor, got shape {}", what, shape_string(t.sizes()));
  require_input(t.numel() > 0, "bootstrap: {} is empty (n=0)", what);
  const auto c = t.to(torch::kCPU, torch::kDouble).contiguous();
  const double* p = c.data_ptr<double>();
  std::vector<double> v(p, p + c.numel());
  for (double x : v) require_input(std::isfinite(x), "bootstrap: {} contains NaN or infinite values", what);
  return v;
}

void check_config(const BootstrapConfig& cfg) {
  require_input(cfg.resamples >= 1, "bootstrap: resamples={} (expected >= 1)", cfg.resamples);
  require_input(cfg.level > 0 && cfg.level < 1, "bootstrap: level={} (expected in (0, 1))", cfg.level);
}

Interval percentile_ci(const std::vector<double>& values, const BootstrapConfig& cfg) {
  check_config(cfg);
  const uint64_t n = values.size();
  std::mt19937_64 gen(cfg.seed);
  std::vector<double> means(static_cast<size_t>(cfg.resamples));
  for (auto& m : means) {
    double sum = 0;
    for (uint64_t i = 0; i < n; ++i) sum += values[uniform_index(n, gen)];
    m = sum / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  return {quantile_sorted(means, (1 - cfg.level) / 2), quantile_sorted(means, (1 + cfg.level) / 2)};
}

}  // namespace

double quantile_sorted(const std::vector<double>& s, double q) {
  const double pos = q * static_cast<double>(s.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, s.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return s[lo] + frac * (s[hi] - s[lo]);
}

Interval bootstrap_ci(const torch::Tensor& per_point, const BootstrapConfig& cfg) {
  return percentile_ci(to_vector(per_point, "per-point values"), cfg);
}

Interval paired_bootstrap_ci(const torch::Tensor& a, const torch::Tensor& b, const BootstrapConfig& cfg) {
  auto va = to_vector(a, "first per-point values");
  const auto vb = to_vector(b, "second per-point values");
  require_input(va.size() == vb.size(), "bootstrap: paired values differ in size ({} and {})", va.size(), vb.size());
  // mean over a resample of (a_i - b_i) = mean(a*) - mean(b*) with the same indices for both.
  for (size_t i = 0; i < va.size(); ++i) va[i] -= vb[i];
  return percentile_ci(va, cfg);
}

}  // namespace tttlab
