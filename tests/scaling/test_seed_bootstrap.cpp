// CIs across seeds: the resampled means against bootstrap_ci (the reference of `tttlab run`), pairing,
// a hand-worked pooled interval, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/eval/bootstrap.hpp"
#include "tttlab/eval/seed_bootstrap.hpp"
#include "tttlab/studies/scaling/sweep_table.hpp"

using namespace tttlab;
using tttlab::test::expect_input_error;

TEST(SeedBootstrap, OneColumnMatchesBootstrapCi) {
  torch::manual_seed(1);
  const auto v = torch::rand({137}, torch::kDouble).gt(0.3).to(torch::kDouble);
  for (uint64_t seed : {0ULL, 7ULL}) {
    auto means = resampled_means({v}, 200, seed)[0];
    ASSERT_EQ(means.size(), 200u);
    const Interval ref = bootstrap_ci(v, {200, 0.9, seed});
    const SeedEstimate e = estimate_across_seeds({v.mean().item<double>()}, {means}, 0.9);
    EXPECT_DOUBLE_EQ(e.ci.lo, ref.lo);
    EXPECT_DOUBLE_EQ(e.ci.hi, ref.hi);
    EXPECT_DOUBLE_EQ(e.mean, v.mean().item<double>());
    EXPECT_EQ(e.seeds, 1);
  }
}

TEST(SeedBootstrap, ColumnsShareTheirResampledIndices) {
  torch::manual_seed(2);
  const auto a = torch::rand({50}, torch::kDouble), b = torch::rand({50}, torch::kDouble);
  const auto r = resampled_means({a, b, a - b}, 64, 3);
  for (size_t i = 0; i < 64; ++i) EXPECT_NEAR(r[2][i], r[0][i] - r[1][i], 1e-12);
  // ... and the paired CI agrees with eval/bootstrap.hpp's paired bootstrap.
  const Interval ref = paired_bootstrap_ci(a, b, {64, 0.9, 3});
  const SeedEstimate e = estimate_across_seeds({0.0}, {r[2]}, 0.9);
  EXPECT_NEAR(e.ci.lo, ref.lo, 1e-12);
  EXPECT_NEAR(e.ci.hi, ref.hi, 1e-12);
}

TEST(SeedBootstrap, PoolsSeedsByHand) {
  // pooled sorted: 0.4 0.5 0.6 0.6 0.7 0.8; 5% at rank 0.25 -> 0.425; 95% at rank 4.75 -> 0.775.
  const SeedEstimate e = estimate_across_seeds({0.5, 0.7}, {{0.6, 0.4, 0.5}, {0.8, 0.6, 0.7}}, 0.9);
  EXPECT_DOUBLE_EQ(e.mean, 0.6);
  EXPECT_NEAR(e.ci.lo, 0.425, 1e-12);
  EXPECT_NEAR(e.ci.hi, 0.775, 1e-12);
  EXPECT_EQ(e.seeds, 2);
}

TEST(SeedBootstrap, BadInput) {
  const auto ok = torch::ones({4}, torch::kDouble);
  expect_input_error([&] { resampled_means({}, 10, 0); }, "no per-point columns");
  expect_input_error([&] { resampled_means({ok}, 0, 0); }, "resamples=0");
  expect_input_error([&] { resampled_means({ok, torch::ones({5}, torch::kDouble)}, 10, 0); }, "differ in length");
  expect_input_error([&] { resampled_means({torch::ones({2, 2})}, 10, 0); }, "1-D");
  expect_input_error([&] { resampled_means({torch::empty({0})}, 10, 0); }, "empty");
  auto nan = ok.clone();
  nan[1] = std::numeric_limits<double>::quiet_NaN();
  expect_input_error([&] { resampled_means({nan}, 10, 0); }, "NaN");
  expect_input_error([&] { estimate_across_seeds({}, {}, 0.9); }, "no seeds");
  expect_input_error([&] { estimate_across_seeds({0.5}, {{0.5}, {0.5}}, 0.9); }, "1 values but 2");
  expect_input_error([&] { estimate_across_seeds({0.5}, {{}}, 0.9); }, "no resampled values");
  expect_input_error([&] { estimate_across_seeds({0.5}, {{0.5}}, 1.0); }, "level=1");
}

TEST(SweepTable, AggregatesSeedsPerConfiguration) {
  std::vector<SweepRun> runs;
  auto result = [](double g, double t) {
    return nlohmann::json{{"metrics",
                           {{"global", {{"value", g}, {"resampled", {g - 0.01, g, g + 0.01}}}},
                            {"ttt", {{"value", t}, {"resampled", {t - 0.01, t, t + 0.01}}}}}}};
  };
  runs.push_back({{"k=1,seed=0", {{"k", 1}, {"seed", 0}}}, result(0.80, 0.85), false});
  runs.push_back({{"k=1,seed=1", {{"k", 1}, {"seed", 1}}}, result(0.90, 0.95), false});
  runs.push_back({{"k=5,seed=0", {{"k", 5}, {"seed", 0}}}, result(0.70, 0.75), true});
  const auto rows = aggregate_sweep(runs, 0.9);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].x, nlohmann::json({{"k", 1}}));
  EXPECT_EQ(rows[0].metric, "global");
  EXPECT_NEAR(rows[0].estimate.mean, 0.85, 1e-12);
  EXPECT_EQ(rows[0].estimate.seeds, 2);
  EXPECT_EQ(rows[1].metric, "ttt");
  EXPECT_NEAR(rows[1].estimate.mean, 0.90, 1e-12);
  EXPECT_EQ(rows[3].x, nlohmann::json({{"k", 5}}));
  EXPECT_EQ(rows[3].estimate.seeds, 1);
  const std::string csv = sweep_rows_csv(rows);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "k,metric,value,ci_lo,ci_hi,seeds");
  EXPECT_NE(csv.find("\n1,\"global\",0.850000,"), std::string::npos) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);

  auto bad = runs;
  bad[1].result["metrics"].erase("ttt");
  expect_input_error([&] { aggregate_sweep(bad, 0.9); }, "metric 'ttt' is missing");
  bad = runs;
  bad[0].result = nlohmann::json::object();
  expect_input_error([&] { aggregate_sweep(bad, 0.9); }, "no \"metrics\"");
}

TEST(SweepTable, MetricsJsonValuesAndResamples) {
  const auto c = torch::tensor({1.0, 0.0, 1.0, 1.0}, torch::kDouble);
  const auto j = metrics_json({{"a", c}, {"b", 1 - c}}, 20, 5);
  EXPECT_DOUBLE_EQ(j["a"]["value"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(j["b"]["value"].get<double>(), 0.25);
  ASSERT_EQ(j["a"]["resampled"].size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_NEAR(j["a"]["resampled"][i].get<double>() + j["b"]["resampled"][i].get<double>(), 1.0, 1e-12);
  }
}
