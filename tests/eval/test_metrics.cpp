#include <gtest/gtest.h>

#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <vector>
#include <random>
#include <string>

#include <torch/torch.h>

#include "tttlab/core/error.hpp"
#include "tttlab/eval/bootstrap.hpp"
#include "tttlab/eval/metrics.hpp"

namespace {

using tttlab::test::expect_input_error;

TEST(Metrics, CorrectAndAccuracy) {
  const auto pred = torch::tensor({0, 1, 2, 2, 1}, torch::kLong);
  const auto y = torch::tensor({0, 2, 2, 1, 1}, torch::kInt);
  const auto c = tttlab::correct(pred, y);
  EXPECT_EQ(c.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::equal(c, torch::tensor({1.0, 0.0, 1.0, 0.0, 1.0}, torch::kDouble)));
  EXPECT_DOUBLE_EQ(tttlab::accuracy(pred, y), 0.6);
  EXPECT_DOUBLE_EQ(tttlab::mean(torch::tensor({1.0, 2.0, 4.5})), 2.5);
}

TEST(Metrics, CrossEntropyHandWorked) {
  const auto logits = torch::tensor({0.0, 0.0, 0.0,     // uniform over 3: log 3
                                     1.0, 2.0, 3.0,     // y=2: log(1 + e^-1 + e^-2)
                                     1.0, 2.0, 3.0,     // y=0: 2 + log(1 + e^-1 + e^-2)
                                     1000.0, 0.0, 0.0,  // y=1: stable, 1000 + log(1 + 2e^-1000) = 1000
                                     1000.0, 0.0, 0.0},
                                    torch::kFloat)
                          .reshape({5, 3});
  const auto y = torch::tensor({1, 2, 0, 1, 0}, torch::kLong);
  const auto ce = tttlab::per_point_cross_entropy(logits, y);
  ASSERT_EQ(ce.scalar_type(), torch::kDouble);
  const double l = std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  EXPECT_NEAR(ce[0].item<double>(), std::log(3.0), 1e-12);
  EXPECT_NEAR(ce[1].item<double>(), l, 1e-12);
  EXPECT_NEAR(ce[2].item<double>(), 2 + l, 1e-12);
  EXPECT_NEAR(ce[3].item<double>(), 1000.0, 1e-9);
  EXPECT_NEAR(ce[4].item<double>(), 0.0, 1e-12);
  EXPECT_TRUE(std::isfinite(tttlab::mean(ce)));
}

TEST(Metrics, InputErrors) {
  expect_input_error([] { tttlab::correct(torch::zeros({3}, torch::kLong), torch::zeros({4}, torch::kLong)); },
                     "3 predictions for 4 labels");
  expect_input_error(
      [] {
        tttlab::correct(torch::zeros({3, 1}, torch::kLong), torch::zeros({3}, torch::kLong));
      },
      "predictions must be a 1-D");
  expect_input_error(
      [] {
        tttlab::per_point_cross_entropy(torch::zeros({2, 3}), torch::tensor({0, 3}));
      },
      "labels must be in [0, 3)");
  expect_input_error(
      [] {
        tttlab::per_point_cross_entropy(torch::zeros({3}), torch::tensor({0, 1, 2}));
      },
      "logits must be a 2-D");
  expect_input_error(
      [] {
        tttlab::per_point_cross_entropy(torch::zeros({2, 3}), torch::tensor({0, 1, 2}));
      },
      "2 rows of logits for 3 labels");
  expect_input_error([] { tttlab::mean(torch::zeros({0})); }, "empty");
}

TEST(UniformIndex, CoversTheRangeEvenly) {
  std::mt19937_64 gen(7);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[tttlab::uniform_index(7, gen)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_EQ(tttlab::uniform_index(1, gen), 0u);
}

TEST(Bootstrap, ContainsTheMeanAndIsDeterministic) {
  torch::manual_seed(11);
  const auto x = torch::randn({500}, torch::kDouble) + 3.0;
  const tttlab::BootstrapConfig cfg{1000, 0.90, 42};
  const auto ci = tttlab::bootstrap_ci(x, cfg);
  const double m = tttlab::mean(x);
  EXPECT_LT(ci.lo, m);
  EXPECT_GT(ci.hi, m);
  const auto again = tttlab::bootstrap_ci(x, cfg);
  EXPECT_EQ(ci.lo, again.lo);
  EXPECT_EQ(ci.hi, again.hi);
  const auto other = tttlab::bootstrap_ci(x, {1000, 0.90, 43});
  EXPECT_TRUE(other.lo != ci.lo || other.hi != ci.hi);
  // A wider level gives a wider interval.
  const auto wide = tttlab::bootstrap_ci(x, {1000, 0.99, 42});
  EXPECT_LT(wide.lo, ci.lo);
  EXPECT_GT(wide.hi, ci.hi);
}

TEST(Bootstrap, BernoulliHalfWidthMatchesNormalApproximation) {
  torch::manual_seed(12);
  const int64_t n = 10000;
  const auto x = torch::bernoulli(torch::full({n}, 0.9, torch::kDouble));
  const double p = tttlab::mean(x);
  const auto ci = tttlab::bootstrap_ci(x, {1000, 0.90, 0});
  const double expected = 1.645 * std::sqrt(p * (1 - p) / n);
  EXPECT_NEAR((ci.hi - ci.lo) / 2, expected, 0.1 * expected);
}

TEST(Bootstrap, PairedIsNarrowerForCorrelatedValues) {
  torch::manual_seed(13);
  const int64_t n = 4000;
  const auto a = torch::bernoulli(torch::full({n}, 0.8, torch::kDouble));
  const auto flip = torch::bernoulli(torch::full({n}, 0.02, torch::kDouble));
  const auto b = (a + flip).remainder(2.0);  // b differs from a on ~2% of the points
  const tttlab::BootstrapConfig cfg{1000, 0.90, 5};
  const auto paired = tttlab::paired_bootstrap_ci(a, b, cfg);
  const auto ca = tttlab::bootstrap_ci(a, cfg), cb = tttlab::bootstrap_ci(b, cfg);
  const double diff = tttlab::mean(a) - tttlab::mean(b);
  EXPECT_LE(paired.lo, diff);
  EXPECT_GE(paired.hi, diff);
  EXPECT_LT(paired.hi - paired.lo, 0.4 * (ca.hi - ca.lo));
  EXPECT_LT(paired.hi - paired.lo, 0.4 * (cb.hi - cb.lo));
  // a against itself: zero difference, zero width.
  const auto self = tttlab::paired_bootstrap_ci(a, a, cfg);
  EXPECT_EQ(self.lo, 0.0);
  EXPECT_EQ(self.hi, 0.0);
}

TEST(Bootstrap, ConstantInputHasZeroWidth) {
  const auto ci = tttlab::bootstrap_ci(torch::full({300}, 0.7, torch::kDouble), {200, 0.9, 1});
  EXPECT_EQ(ci.lo, ci.hi);
  EXPECT_NEAR(ci.lo, 0.7, 1e-12);
}

TEST(Bootstrap, SinglePointAndHandWorkedQuantiles) {
  // n = 1: every resample is the point itself.
  const auto one = tttlab::bootstrap_ci(torch::tensor({2.5}, torch::kDouble), {50, 0.9, 3});
  EXPECT_EQ(one.lo, 2.5);
  EXPECT_EQ(one.hi, 2.5);
  // Two points {0, 1}: resample means are in {0, 0.5, 1} and the CI stays inside [0, 1].
  const auto two = tttlab::bootstrap_ci(torch::tensor({0.0, 1.0}, torch::kDouble), {1000, 0.9, 3});
  EXPECT_EQ(two.lo, 0.0);
  EXPECT_EQ(two.hi, 1.0);
}

// Quantiles between closest ranks (numpy's default, pos = q (n - 1)) at positions that tell an
// off-by-one in the position apart: whole ranks and fractions, both ends.
TEST(Bootstrap, QuantilePositionsHandWorked) {
  const std::vector<double> s{10, 20, 30, 40, 50};
  EXPECT_DOUBLE_EQ(tttlab::quantile_sorted(s, 0.0), 10);
  EXPECT_DOUBLE_EQ(tttlab::quantile_sorted(s, 0.05), 12);  // pos 0.2
  EXPECT_DOUBLE_EQ(tttlab::quantile_sorted(s, 0.25), 20);  // pos 1
  EXPECT_DOUBLE_EQ(tttlab::quantile_sorted(s, 0.3), 22);   // pos 1.2
  EXPECT_DOUBLE_EQ(tttlab::quantile_sorted(s, 0.5), 30);   // pos 2
  EXPECT_DOUBLE_EQ(tttlab::quantile_sorted(s, 0.95), 48);  // pos 3.8
  EXPECT_DOUBLE_EQ(tttlab::quantile_sorted(s, 1.0), 50);
  EXPECT_DOUBLE_EQ(tttlab::quantile_sorted({7}, 0.95), 7);
  // 1000 values 0..999: the 5% and 95% quantiles of a 90% interval sit at 49.95 and 949.05.
  std::vector<double> ranks(1000);
  for (size_t i = 0; i < ranks.size(); ++i) ranks[i] = static_cast<double>(i);
  EXPECT_NEAR(tttlab::quantile_sorted(ranks, 0.05), 49.95, 1e-9);
  EXPECT_NEAR(tttlab::quantile_sorted(ranks, 0.95), 949.05, 1e-9);
}

// The whole interval recomputed here: the same resamples (mt19937_64 seeded with the config's seed,
// uniform_index), sorted means, and the 5% / 95% quantiles interpolated by hand.
TEST(Bootstrap, IntervalEqualsTheQuantilesOfTheResampleMeansByHand) {
  torch::manual_seed(21);
  const auto x = torch::randn({37}, torch::kDouble);
  const tttlab::BootstrapConfig cfg{400, 0.90, 9};
  std::mt19937_64 gen(cfg.seed);
  const double* v = x.data_ptr<double>();
  std::vector<double> means(400);
  for (auto& m : means) {
    double sum = 0;
    for (int i = 0; i < 37; ++i) sum += v[tttlab::uniform_index(37, gen)];
    m = sum / 37.0;
  }
  std::sort(means.begin(), means.end());
  // 400 means: the 5% quantile is at position 0.05 * 399 = 19.95, the 95% at 379.05.
  const double lo = means[19] + 0.95 * (means[20] - means[19]);
  const double hi = means[379] + 0.05 * (means[380] - means[379]);
  const auto ci = tttlab::bootstrap_ci(x, cfg);
  EXPECT_NEAR(ci.lo, lo, 1e-12);
  EXPECT_NEAR(ci.hi, hi, 1e-12);
  // Neighbouring ranks give other values: the check pins the position, not just the neighbourhood.
  EXPECT_GT(std::abs(means[20] - lo), 1e-6);
  EXPECT_GT(std::abs(means[380] - hi), 1e-6);
}

TEST(Bootstrap, InputErrors) {
  const tttlab::BootstrapConfig cfg;
  expect_input_error([&] { tttlab::bootstrap_ci(torch::zeros({0}, torch::kDouble), cfg); }, "empty");
  expect_input_error([&] { tttlab::paired_bootstrap_ci(torch::zeros({3}), torch::zeros({4}), cfg); },
                     "differ in size (3 and 4)");
  expect_input_error([&] { tttlab::bootstrap_ci(torch::zeros({3}), {0, 0.9, 0}); }, "resamples=0");
  expect_input_error([&] { tttlab::bootstrap_ci(torch::zeros({3}), {10, 1.0, 0}); }, "level=1");
  expect_input_error([&] { tttlab::bootstrap_ci(torch::zeros({3, 2}), cfg); }, "1-D");
}

}  // namespace
