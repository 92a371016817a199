#pragma once
// Percentile bootstrap confidence intervals of a mean over test points (by default 90%, 1000
// resamples: BootstrapConfig). Deterministic for a seed on every platform: std::mt19937_64 and our own unbiased
// index draw (not std::uniform_int_distribution, whose algorithm is implementation-defined).
#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace tttlab {

struct Interval {
  double lo = 0, hi = 0;
};

struct BootstrapConfig {
  int resamples = 1000;
  double level = 0.90;
  uint64_t seed = 0;
};

// CI of mean(per_point): resample the n points with replacement `resamples` times, and take the
// (1 - level)/2 and (1 + level)/2 quantiles (linear interpolation) of the resampled means.
Interval bootstrap_ci(const torch::Tensor& per_point, const BootstrapConfig& cfg);

// CI of mean(a) - mean(b) for paired per-point values (the same test points): every resample uses
// the same indices for a and b.
Interval paired_bootstrap_ci(const torch::Tensor& a, const torch::Tensor& b, const BootstrapConfig& cfg);

// Quantile q in [0, 1] of ascending, non-empty values: linear interpolation between closest ranks
// (numpy's default).
double quantile_sorted(const std::vector<double>& sorted, double q);

// Uniform integer in [0, n) from a generator of uniform 64-bit words (std::mt19937_64), n >= 1:
// rejects the lowest 2^64 mod n words so that the remainder is exactly uniform.
template <typename Gen>
uint64_t uniform_index(uint64_t n, Gen& gen) {
  static_assert(Gen::min() == 0 && Gen::max() == ~uint64_t{0}, "needs a full 64-bit generator");
  const uint64_t reject_below = (uint64_t{0} - n) % n;  // 2^64 mod n
  uint64_t r;
  do {
    r = gen();
  } while (r < reject_below);
  return r % n;
}

}  // namespace tttlab
