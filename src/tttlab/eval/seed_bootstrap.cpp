#include "tttlab/eval/seed_bootstrap.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "tttlab/core/error.hpp"
#include "tttlab/core/shape.hpp"

namespace tttlab {

std::vector<std::vector<double>> resampled_means(const std::vector<torch::Tensor>& columns, int resamples,
                                                 uint64_t seed) {
  require_input(!columns.empty(), "bootstrap: no per-point columns");
  require_input(resamples >= 1, "bootstrap: resamples={} (expected >= 1)", resamples);
  std::vector<torch::Tensor> cols;
  for (const auto& c : columns) {
    require_input(c.defined() && c.dim() == 1, "bootstrap: per-point values must be 1-D [n], got shape {}",
                  c.defined() ? shape_string(c.sizes()) : std::string("undefined"));
    require_input(c.numel() > 0, "bootstrap: per-point values are empty (n=0)");
    require_input(c.numel() == columns.front().numel(), "bootstrap: columns differ in length ({} and {})", c.numel(),
                  columns.front().numel());
    auto d = c.to(torch::kCPU, torch::kDouble).contiguous();
    require_input(torch::isfinite(d).all().item<bool>(), "bootstrap: per-point values contain NaN or infinite values");
    cols.push_back(d);
  }
  const uint64_t n = static_cast<uint64_t>(cols.front().numel());
  std::vector<const double*> ptr;
  for (const auto& c : cols) ptr.push_back(c.data_ptr<double>());
  std::vector<std::vector<double>> out(cols.size(), std::vector<double>(static_cast<size_t>(resamples)));
  std::mt19937_64 gen(seed);
  std::vector<double> sums(cols.size());
  for (int r = 0; r < resamples; ++r) {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t j = uniform_index(n, gen);
      for (size_t c = 0; c < cols.size(); ++c) sums[c] += ptr[c][j];
    }
    for (size_t c = 0; c < cols.size(); ++c) out[c][static_cast<size_t>(r)] = sums[c] / static_cast<double>(n);
  }
  return out;
}

SeedEstimate estimate_across_seeds(const std::vector<double>& per_seed,
                                   const std::vector<std::vector<double>>& resampled, double level) {
  require_input(!per_seed.empty(), "estimate across seeds: no seeds");
  require_input(per_seed.size() == resampled.size(), "estimate across seeds: {} values but {} resample sets",
                per_seed.size(), resampled.size());
  require_input(level > 0 && level < 1, "estimate across seeds: level={} (expected in (0, 1))", level);
  SeedEstimate e;
  std::vector<double> pooled;
  for (size_t s = 0; s < per_seed.size(); ++s) {
    require_input(std::isfinite(per_seed[s]), "estimate across seeds: value of seed #{} is not finite", s);
    require_input(!resampled[s].empty(), "estimate across seeds: seed #{} has no resampled values", s);
    for (double v : resampled[s]) {
      require_input(std::isfinite(v), "estimate across seeds: seed #{} has a non-finite resampled value", s);
      pooled.push_back(v);
    }
    e.mean += per_seed[s];
  }
  e.mean /= static_cast<double>(per_seed.size());
  e.seeds = static_cast<int64_t>(per_seed.size());
  std::sort(pooled.begin(), pooled.end());
  e.ci = {quantile_sorted(pooled, (1 - level) / 2), quantile_sorted(pooled, (1 + level) / 2)};
  return e;
}

}  // namespace tttlab
