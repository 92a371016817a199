// Selection on validation: the hold-out, the grid search, and a study with --tune.
#include <gtest/gtest.h>

#include <set>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/data/subsample.hpp"
#include "tttlab/eval/summary.hpp"
#include "tttlab/selection/grid_search.hpp"
#include "tttlab/studies/presets.hpp"
#include "tttlab/studies/study.hpp"
#include "tttlab/studies/study_report.hpp"
#include "test_support.hpp"

using namespace tttlab;

namespace {

// A world where a linear head is the right model and 30% of the labels are flipped at random: the
// global head learns the boundary, while TTT with a tiny neighbourhood and a large step fits the
// neighbours' noise and loses to it.
Dataset noisy_linear_world(uint64_t seed, int64_t n_train = 1500, int64_t n_val = 600, int64_t n_test = 1000) {
  auto gen = at::detail::createCPUGenerator(seed);
  const int64_t d = 6, c = 3;
  const auto w = torch::randn({c, d}, gen);
  auto make = [&](int64_t n) {
    const auto x = torch::randn({n, d}, gen);
    auto y = torch::mm(x, w.t()).argmax(1);
    const auto flip = torch::rand({n}, gen).lt(0.3);
    y = torch::where(flip, torch::randint(c, {n}, gen, torch::kLong), y);
    return Split{x, y};
  };
  Dataset data;
  data.name = "noisy-linear";
  data.train = make(n_train);
  data.val = make(n_val);
  data.test = make(n_test);
  data.num_classes = c;
  return data;
}

StudyConfig hurtful_fixed_settings() {
  StudyConfig cfg;
  cfg.data = "noisy-linear";
  cfg.head_train = {200, 128, 1e-2, 0.0};
  cfg.head_train.patience = 10;
  cfg.ttt.k = 3;
  cfg.ttt.steps = 100;
  cfg.ttt.lr = 0.5;
  cfg.majority_k = 1;
  cfg.bootstrap.resamples = 300;
  cfg.device = "cpu";
  return cfg;
}

void small_grid(StudyConfig& cfg) {
  cfg.tune = true;
  cfg.grid.ks = {3, 30, 150};
  cfg.grid.steps = {10, 100};
  cfg.grid.lrs = {0.01, 0.5};
  cfg.grid.majority_ks = {1, 15, 60};
}

class Selection : public ::testing::Test {
 protected:
  void SetUp() override { set_progress_enabled(false); }
};

}  // namespace

TEST_F(Selection, StratifiedHoldoutKeepsClassProportionsAndIsSeeded) {
  // 50 rows of class 0, 30 of class 1, 1 of class 2 (a single row stays in training).
  std::vector<int64_t> labels(50, 0);
  labels.insert(labels.end(), 30, 1);
  labels.push_back(2);
  const auto y = torch::tensor(labels, torch::kLong);
  const HoldoutRows a = stratified_holdout_rows(y, 3, 0.2, 7);
  const auto held = y.index_select(0, a.holdout);
  EXPECT_EQ(held.eq(0).sum().item<int64_t>(), 10);
  EXPECT_EQ(held.eq(1).sum().item<int64_t>(), 6);
  EXPECT_EQ(held.eq(2).sum().item<int64_t>(), 0);
  EXPECT_EQ(a.keep.numel() + a.holdout.numel(), 81);
  std::set<int64_t> all(a.keep.data_ptr<int64_t>(), a.keep.data_ptr<int64_t>() + a.keep.numel());
  for (int64_t i = 0; i < a.holdout.numel(); ++i) EXPECT_TRUE(all.insert(a.holdout[i].item<int64_t>()).second);
  EXPECT_EQ(all.size(), 81u);
  EXPECT_TRUE(torch::equal(stratified_holdout_rows(y, 3, 0.2, 7).holdout, a.holdout));
  EXPECT_FALSE(torch::equal(stratified_holdout_rows(y, 3, 0.2, 8).holdout, a.holdout));
  EXPECT_THROW(stratified_holdout_rows(y, 3, 0.6, 7), InputError);
  EXPECT_THROW(stratified_holdout_rows(torch::tensor({0, 1, 2}, torch::kLong), 3, 0.2, 7), InputError);
}

TEST_F(Selection, GridValuesOutOfRangeAreRejectedBeforeAnyWork) {
  SelectionGrid grid;
  grid.ks = {10, 5000};
  tttlab::test::expect_input_error([&] { grid.validate(1000); }, "tune grid: k=5000", {"1..1000"});
  grid.ks = {10};
  grid.lrs = {};
  tttlab::test::expect_input_error([&] { grid.validate(1000); }, "tune grid: lr is empty", {});
  grid.lrs = {0.1};
  grid.steps = {-1};
  EXPECT_THROW(grid.validate(1000), InputError);
  grid.steps = {50, 10};
  EXPECT_EQ(grid.steps_with_zero(), (std::vector<int64_t>{0, 10, 50}));
}

TEST_F(Selection, TunedTttFallsBackToTheGlobalHeadWhereFixedSettingsHurt) {
  const Dataset data = noisy_linear_world(1);
  StudyConfig fixed = hurtful_fixed_settings();
  const StudyResult a = run_study(fixed, data);
  const Summary sa = summarize(a.methods, a.test_labels, fixed.bootstrap);
  const double global = sa.methods[0].accuracy, ttt_fixed = sa.methods[2].accuracy;
  ASSERT_EQ(sa.methods[2].name, "ttt");
  // The premise: the fixed settings lose clearly (well beyond the paired CI).
  ASSERT_LT(ttt_fixed, global - 0.05) << ttt_fixed << " vs " << global;

  StudyConfig tuned = fixed;
  small_grid(tuned);
  const StudyResult b = run_study(tuned, data);
  const Summary sb = summarize(b.methods, b.test_labels, tuned.bootstrap);
  ASSERT_TRUE(b.selection.has_value());
  // Every (k, lr) x steps {0, 10, 100} was scored, and the grid's step 0 is the global head.
  EXPECT_EQ(b.selection->ttt.size(), 3u * 2u * 3u);
  EXPECT_EQ(b.selection->num_points, 600);
  const Comparison& diff = sb.comparisons[1];
  ASSERT_EQ(diff.name, "ttt - global");
  EXPECT_GE(diff.ci.hi, 0.0) << "tuned TTT is below the global head's CI: " << diff.accuracy_diff;
  EXPECT_GT(sb.methods[2].accuracy, ttt_fixed + 0.04);
  // The settings that ran are the chosen ones, and results.json records the selection.
  EXPECT_EQ(b.chosen.ttt.k, b.selection->chosen_ttt.k);
  EXPECT_EQ(b.chosen.ttt.steps, b.selection->chosen_ttt.steps);
  const auto j = study_results_json(tuned, b, sb);
  EXPECT_EQ(j["selection"]["chosen"]["ttt"]["k"], b.selection->chosen_ttt.k);
  EXPECT_EQ(j["selection"]["ttt"].size(), 18u);
  EXPECT_EQ(j["config"]["ttt"]["k"], b.selection->chosen_ttt.k);
  EXPECT_NE(j["validation"]["source"].get<std::string>().find("val split"), std::string::npos);
}

TEST_F(Selection, ChoiceDoesNotChangeWhenTestLabelsArePermuted) {
  const Dataset data = noisy_linear_world(2);
  StudyConfig cfg = hurtful_fixed_settings();
  small_grid(cfg);
  Dataset permuted = data;
  auto gen = at::detail::createCPUGenerator(11);
  permuted.test.y = data.test.y.index_select(0, torch::randperm(data.test.size(), gen, torch::kLong));
  ASSERT_FALSE(torch::equal(permuted.test.y, data.test.y));
  const StudyResult a = run_study(cfg, data), b = run_study(cfg, permuted);
  ASSERT_TRUE(a.selection && b.selection);
  ASSERT_EQ(a.selection->ttt.size(), b.selection->ttt.size());
  for (size_t i = 0; i < a.selection->ttt.size(); ++i) {
    EXPECT_EQ(a.selection->ttt[i].accuracy, b.selection->ttt[i].accuracy) << i;
    EXPECT_EQ(a.selection->ttt[i].nll, b.selection->ttt[i].nll) << i;
  }
  EXPECT_EQ(a.chosen.ttt.k, b.chosen.ttt.k);
  EXPECT_EQ(a.chosen.ttt.steps, b.chosen.ttt.steps);
  EXPECT_EQ(a.chosen.ttt.lr, b.chosen.ttt.lr);
  EXPECT_EQ(a.chosen.majority_k, b.chosen.majority_k);
}

TEST_F(Selection, WithoutAValSplitAStratifiedHoldoutIsUsedAndTheRestTrains) {
  Dataset data = noisy_linear_world(3, 1000, 1, 300);
  data.val.reset();
  StudyConfig cfg = hurtful_fixed_settings();
  small_grid(cfg);
  cfg.grid.holdout_fraction = 0.2;
  const StudyResult r = run_study(cfg, data);
  EXPECT_EQ(r.num_train, 800);
  EXPECT_EQ(r.num_val, 200);
  ASSERT_TRUE(r.selection.has_value());
  EXPECT_EQ(r.selection->num_points, 200);
  EXPECT_NE(r.validation.find("stratified hold-out of 20% of train"), std::string::npos) << r.validation;
  // Without --tune and without a val split nothing is held out.
  cfg.tune = false;
  EXPECT_EQ(run_study(cfg, data).num_train, 1000);
}

TEST_F(Selection, KLargerThanTheTrainingSetFailsBeforeTraining) {
  Dataset data = noisy_linear_world(4, 40, 10, 10);
  StudyConfig cfg = hurtful_fixed_settings();
  cfg.ttt.k = 41;
  tttlab::test::expect_input_error([&] { run_study(cfg, data); }, "k=41 is larger than the training set (N=40)", {});
  small_grid(cfg);
  tttlab::test::expect_input_error([&] { run_study(cfg, data); }, "tune grid: k=150", {"1..40"});
}

TEST_F(Selection, TheDefaultPresetIsTheLibrarysDefaults) {
  // `tttlab run --help` states the preset "default" as its defaults; a StudyConfig{} must hold them.
  const StudyConfig plain;
  StudyConfig preset;
  preset.ttt.k = preset.ttt.steps = preset.majority_k = -1;  // so that the preset has to set them
  apply_preset(study_preset("default"), preset);
  EXPECT_EQ(preset.preset, "default");
  EXPECT_EQ(plain.size_scale, preset.size_scale);
  for (const auto& [a, b] : {std::pair{plain.model_train, preset.model_train}, {plain.head_train, preset.head_train}}) {
    EXPECT_EQ(a.epochs, b.epochs);
    EXPECT_EQ(a.batch_size, b.batch_size);
    EXPECT_EQ(a.lr, b.lr);
    EXPECT_EQ(a.weight_decay, b.weight_decay);
    EXPECT_EQ(a.patience, b.patience);
  }
  EXPECT_EQ(plain.ttt.k, preset.ttt.k);
  EXPECT_EQ(plain.ttt.steps, preset.ttt.steps);
  EXPECT_EQ(plain.ttt.lr, preset.ttt.lr);
  EXPECT_EQ(plain.ttt.weight_decay, preset.ttt.weight_decay);
  EXPECT_EQ(plain.majority_k, preset.majority_k);
  // Table 4's TinyLeNet row, as the presets are built from model_sizes.
  EXPECT_EQ(preset.ttt.k, 50);
  EXPECT_EQ(preset.ttt.steps, 200);
  EXPECT_EQ(preset.majority_k, 6);
  tttlab::test::expect_input_error([] { study_preset("paper-e3"); }, "unknown preset 'paper-e3'", {"paper-e2"});
}
