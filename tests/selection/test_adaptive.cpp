// Per-point adaptive TTT: each point's (k, steps) from leave-one-out on its own neighbourhood.
#include <gtest/gtest.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/selection/adaptive.hpp"
#include "ttt_problem.hpp"

using namespace tttlab;

namespace {

TttProblem problem(int64_t k) {
  TttProblemSpec spec;
  spec.n = 300;
  spec.m = 17;
  spec.d = 6;
  spec.c = 4;
  spec.k = k;
  spec.seed = 5;
  spec.dtype = torch::kFloat64;
  return make_ttt_problem(spec);
}

LocalFitConfig base_config() {
  LocalFitConfig base;
  base.lr = 0.05;
  return base;
}

// Two neighbourhood sizes and three step counts (0 = the global head), scored on three held-out
// neighbours: enough settings for the points' choices to differ.
AdaptiveConfig two_k_grid() {
  AdaptiveConfig cfg;
  cfg.ks = {5, 40};
  cfg.steps = {0, 8, 60};
  cfg.holdouts = 3;
  return cfg;
}

}  // namespace

TEST(Adaptive, AOnePointGridIsPlainTtt) {
  set_progress_enabled(false);
  const TttProblem p = problem(25);
  const LocalFitConfig base = base_config();
  AdaptiveConfig cfg;
  cfg.ks = {25};
  cfg.steps = {30};
  cfg.holdouts = 2;
  const AdaptiveResult a = adaptive_local_fit(p.head, p.data, cfg, base);
  LocalFitConfig fixed = base;
  fixed.k = 25;
  fixed.steps = 30;
  const LocalFitResult f = local_fit_batched(p.head, p.data, fixed);
  EXPECT_LT((a.logits - f.logits).abs().max().item<double>(), 1e-10);
  EXPECT_TRUE(torch::equal(a.pred, f.pred));
  EXPECT_TRUE(a.chosen_k.eq(25).all().item<bool>());
  EXPECT_TRUE(a.chosen_steps.eq(30).all().item<bool>());
  // Two leave-one-out passes on 24 neighbours and the test pass on 25, 30 steps each, 4 x 6 heads.
  EXPECT_DOUBLE_EQ(a.flops_per_point, 2 * ttt_flops_per_point(24, 30, 4, 6) + ttt_flops_per_point(25, 30, 4, 6));
}

TEST(Adaptive, EveryPointGetsTheLogitsOfItsOwnChoice) {
  set_progress_enabled(false);
  const TttProblem p = problem(40);
  const LocalFitConfig base = base_config();
  AdaptiveConfig cfg = two_k_grid();
  const AdaptiveResult a = adaptive_local_fit(p.head, p.data, cfg, base);
  ASSERT_EQ(a.chosen_k.numel(), 17);
  // The choices vary across points here (otherwise the test would not exercise the per-point read).
  EXPECT_GT(std::get<0>(torch::_unique(a.chosen_k * 1000 + a.chosen_steps)).numel(), 1);
  for (int64_t i = 0; i < 17; ++i) {
    LocalFitConfig one = base;
    one.k = a.chosen_k[i].item<int64_t>();
    one.steps = a.chosen_steps[i].item<int64_t>();
    LocalFitData row{p.data.train_x, p.data.train_y, p.data.test_x.slice(0, i, i + 1), torch::Tensor(),
                     p.data.neighbors.slice(0, i, i + 1)};
    const auto f = local_fit_batched(p.head, row, one);
    EXPECT_LT((a.logits[i] - f.logits[0]).abs().max().item<double>(), 1e-10) << i;
  }
  cfg.ks = {1, 5};
  EXPECT_THROW(adaptive_local_fit(p.head, p.data, cfg, base), InputError);
  cfg.ks = {5, 41};
  EXPECT_THROW(adaptive_local_fit(p.head, p.data, cfg, base), InputError);
}

TEST(Adaptive, APointLeavesTheDefaultOnlyOnStrictlyMoreHeldOutNeighboursRight) {
  set_progress_enabled(false);
  const TttProblem p = problem(40);
  const LocalFitConfig base = base_config();
  AdaptiveConfig cfg = two_k_grid();
  const AdaptiveResult free_choice = adaptive_local_fit(p.head, p.data, cfg, base);
  cfg.default_k = 40;
  cfg.default_steps = 8;
  const AdaptiveResult with_default = adaptive_local_fit(p.head, p.data, cfg, base);
  // Every point that moved away from the default did so for a setting the free choice also ranks
  // at least as high; points whose free choice tied with the default now keep the default.
  int64_t kept = 0;
  for (int64_t i = 0; i < 17; ++i) {
    const bool is_default =
        with_default.chosen_k[i].item<int64_t>() == 40 && with_default.chosen_steps[i].item<int64_t>() == 8;
    kept += is_default ? 1 : 0;
    if (!is_default) {
      EXPECT_EQ(with_default.chosen_k[i].item<int64_t>(), free_choice.chosen_k[i].item<int64_t>()) << i;
      EXPECT_EQ(with_default.chosen_steps[i].item<int64_t>(), free_choice.chosen_steps[i].item<int64_t>()) << i;
    }
  }
  const int64_t free_at_default =
      (free_choice.chosen_k.eq(40).logical_and(free_choice.chosen_steps.eq(8))).sum().item<int64_t>();
  EXPECT_GE(kept, free_at_default);
  EXPECT_GT(kept, 0);
  cfg.default_k = 7;
  EXPECT_THROW(adaptive_local_fit(p.head, p.data, cfg, base), InputError);
}
