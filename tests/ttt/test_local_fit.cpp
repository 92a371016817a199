#include <gtest/gtest.h>

#include <cmath>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/ttt/local_fit.hpp"
#include "tttlab/ttt/local_fit_common.hpp"
#include "test_support.hpp"
#include "ttt_problem.hpp"

using namespace tttlab;
using tttlab::test::kFloat32Tol;

namespace {

TttProblem random_problem(torch::ScalarType dtype, int64_t n = 300, int64_t m = 13, int64_t d = 8, int64_t c = 5,
                          int64_t k = 20, uint64_t seed = 7) {
  TttProblemSpec spec;
  spec.n = n;
  spec.m = m;
  spec.d = d;
  spec.c = c;
  spec.k = k;
  spec.seed = seed;
  spec.dtype = dtype;
  return make_ttt_problem(spec);
}

// Exact k nearest by squared L2, computed the plain way (for the test only).
torch::Tensor brute_force_neighbors(const torch::Tensor& train, const torch::Tensor& test, int64_t k) {
  const auto dist = torch::cdist(test.to(torch::kDouble), train.to(torch::kDouble));
  return std::get<1>(dist.topk(k, 1, /*largest=*/false, /*sorted=*/true));
}

// The weights after the first Adam step, by hand: m_hat = g and sqrt(v_hat) = |g|, so every weight
// moves by -lr * g / (|g| + eps), where g is the gradient of the mean cross-entropy over the
// neighbours at `positions` of the point's list (0 = nearest). float64 problems only.
torch::Tensor first_adam_step_by_hand(const TttProblem& p, int64_t point, const std::vector<int64_t>& positions,
                                      double lr, double eps) {
  const auto pos = torch::tensor(positions, torch::kLong);
  const auto idx = p.data.neighbors[point].index_select(0, pos);
  const auto x = p.data.train_x.index_select(0, idx);
  const auto y = p.data.train_y.index_select(0, idx);
  const int64_t c = p.head.num_classes();
  const auto probs = torch::softmax(torch::addmm(p.head.bias, x, p.head.weight.t()), 1);
  const auto g =
      torch::mm((probs - torch::one_hot(y, c).to(torch::kDouble)).t(), x) / static_cast<double>(positions.size());
  return p.head.weight - lr * g / (g.abs() + eps);
}

class LocalFit : public ::testing::Test {
 protected:
  void SetUp() override { set_progress_enabled(false); }
};

}  // namespace

TEST_F(LocalFit, BatchSizeDoesNotChangeResultsAndTheGlobalHeadIsLeftAlone) {
  // Regression: with one point per batch the adapted weights once aliased the global head.
  const TttProblem p = random_problem(torch::kFloat32, 200, 5, 6, 4, 10, 9);
  const auto weight_before = p.head.weight.clone(), bias_before = p.head.bias.clone();
  LocalFitConfig cfg;
  cfg.k = 10;
  cfg.steps = 10;
  cfg.lr = 0.05;
  cfg.keep_heads = true;
  const auto ref = local_fit_reference(p.head, p.data, cfg);
  for (const int64_t per_batch : {1, 2, 5}) {
    cfg.points_per_batch = per_batch;
    const auto fast = local_fit_batched(p.head, p.data, cfg);
    EXPECT_LT(max_relative_difference(fast.weights, ref.weights), kFloat32Tol) << per_batch;
    EXPECT_TRUE(torch::equal(p.head.weight, weight_before)) << per_batch;
    EXPECT_TRUE(torch::equal(p.head.bias, bias_before)) << per_batch;
  }
}

TEST_F(LocalFit, OneStepMovesEveryWeightByLrTimesGradientSign) {
  const TttProblem p = random_problem(torch::kFloat64, 100, 4, 3, 3, 10, 5);
  LocalFitConfig cfg;
  cfg.k = 10;
  cfg.steps = 1;
  cfg.lr = 0.01;
  cfg.keep_heads = true;
  const auto fast = local_fit_batched(p.head, p.data, cfg);
  for (int64_t i = 0; i < 4; ++i) {
    const auto expected = first_adam_step_by_hand(p, i, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0.01, 1e-8);
    EXPECT_LT((fast.weights[i] - expected).abs().max().item<double>(), 1e-12);
  }
}

// Sequential mode visits the neighbours nearest first: its first step sees the nearest neighbour
// alone. Pinned by hand, since the reference path shares the neighbour gathering with the batched one.
TEST_F(LocalFit, SequentialFirstStepSeesTheNearestNeighbourAlone) {
  const TttProblem p = random_problem(torch::kFloat64, 100, 4, 3, 3, 10, 5);
  LocalFitConfig cfg;
  cfg.k = 10;
  cfg.steps = 1;
  cfg.lr = 0.01;
  cfg.mode = LocalFitMode::Sequential;
  cfg.keep_heads = true;
  const auto reference = local_fit_reference(p.head, p.data, cfg);
  const auto batched = local_fit_batched(p.head, p.data, cfg);
  for (int64_t i = 0; i < 4; ++i) {
    const auto nearest = first_adam_step_by_hand(p, i, {0}, 0.01, 1e-8);
    EXPECT_LT((reference.weights[i] - nearest).abs().max().item<double>(), 1e-12) << i;
    EXPECT_LT((batched.weights[i] - nearest).abs().max().item<double>(), 1e-12) << i;
    // The farthest neighbour of another label than the nearest would move the head elsewhere (Adam's
    // first step is lr * sign(g), so a neighbour of the same label may give the very same step): the
    // check tells the two orders apart.
    const auto labels = p.data.train_y.index_select(0, p.data.neighbors[i].narrow(0, 0, 10));
    int64_t other = 9;
    while (other > 0 && labels[other].item<int64_t>() == labels[0].item<int64_t>()) --other;
    ASSERT_GT(other, 0) << "point " << i << ": all ten neighbours share one label";
    EXPECT_GT((first_adam_step_by_hand(p, i, {other}, 0.01, 1e-8) - nearest).abs().max().item<double>(), 1e-3) << i;
  }
}

TEST_F(LocalFit, ZeroStepsPredictsWithTheGlobalHead) {
  const TttProblem p = random_problem(torch::kFloat32);
  LocalFitConfig cfg;
  cfg.k = 5;
  cfg.steps = 0;
  const auto out = local_fit_batched(p.head, p.data, cfg);
  const auto global = p.head.logits(p.data.test_x);
  EXPECT_TRUE(torch::allclose(out.logits, global, 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(out.pred, global.argmax(1)));
}

TEST_F(LocalFit, LogitsAtAStepEqualARunOfThatManySteps) {
  // Selection scores a grid of step counts from one run: the logits recorded after s steps must be
  // those of an s-step run.
  const TttProblem p = random_problem(torch::kFloat64, 200, 9, 6, 4, 15, 3);
  LocalFitConfig cfg;
  cfg.k = 15;
  cfg.steps = 40;
  cfg.lr = 0.05;
  cfg.points_per_batch = 4;
  cfg.logits_at_steps = {0, 1, 13, 40};
  const auto all = local_fit_batched(p.head, p.data, cfg);
  ASSERT_EQ(all.step_logits.sizes(), torch::IntArrayRef({4, 9, 4}));
  for (size_t s = 0; s < cfg.logits_at_steps.size(); ++s) {
    LocalFitConfig one = cfg;
    one.steps = cfg.logits_at_steps[s];
    one.logits_at_steps.clear();
    const auto run = local_fit_batched(p.head, p.data, one);
    EXPECT_LT((all.step_logits[static_cast<int64_t>(s)] - run.logits).abs().max().item<double>(), 1e-12) << s;
  }
  // The steps moved the logits, so the comparison is not between copies of the global head.
  EXPECT_GT((all.step_logits[3] - all.step_logits[0]).abs().max().item<double>(), 0.1);
  cfg.logits_at_steps = {5, 3};
  EXPECT_THROW(local_fit_batched(p.head, p.data, cfg), InputError);
  cfg.logits_at_steps = {41};
  EXPECT_THROW(local_fit_batched(p.head, p.data, cfg), InputError);
}

TEST_F(LocalFit, LocalHeadsSolveXorThatNoGlobalLinearHeadCan) {
  // Four clusters in an XOR layout: label = (x0 > 0) xor (x1 > 0). A global linear head is at chance
  // level; a head fitted on each point's neighbours (all from one cluster) is right almost always.
  torch::manual_seed(1);
  const auto centers = torch::tensor({{2.0, 2.0}, {-2.0, -2.0}, {2.0, -2.0}, {-2.0, 2.0}});
  const auto labels = torch::tensor({0, 0, 1, 1}, torch::kLong);
  auto make = [&](int64_t per) {
    const auto cluster = torch::arange(4).repeat_interleave(per);
    return std::make_pair((centers.index_select(0, cluster) + 0.5 * torch::randn({4 * per, 2})).to(torch::kFloat32),
                          labels.index_select(0, cluster));
  };
  auto [train_x, train_y] = make(100);
  auto [test_x, test_y] = make(25);
  LocalFitData data{train_x, train_y, test_x, test_y, brute_force_neighbors(train_x, test_x, 30)};
  LinearHead head{torch::zeros({2, 2}), torch::zeros({2})};
  LocalFitConfig cfg;
  cfg.k = 30;
  cfg.steps = 50;
  cfg.lr = 0.1;
  const auto out = local_fit_batched(head, data, cfg);
  const double acc = out.pred.eq(test_y).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(acc, 0.97);
  // Cross-entropy fell far below that of the (uniform) global head: log 2.
  EXPECT_LT(out.ce.mean().item<double>(), 0.2);
}

TEST_F(LocalFit, ChoosesPointsPerBatchFromTheMemoryBudget) {
  LocalFitConfig cfg;
  cfg.memory_budget_bytes = 1 << 20;
  // per point: 4 * (5*10*50 + 100*50 + 3*100*10 + 50) = 4 * 10550 bytes
  EXPECT_EQ(local_fit_points_per_batch(10, 50, 100, 4, cfg), (1 << 20) / (4 * 10550));
  cfg.points_per_batch = 7;
  EXPECT_EQ(local_fit_points_per_batch(10, 50, 100, 4, cfg), 7);
  cfg.points_per_batch = 0;
  cfg.memory_budget_bytes = 1;
  EXPECT_EQ(local_fit_points_per_batch(1000, 512, 50, 4, cfg), 1);
}

TEST_F(LocalFit, RejectsBadInput) {
  const TttProblem p = random_problem(torch::kFloat32, 50, 4, 8, 5, 20);
  LocalFitConfig cfg;
  cfg.k = 21;  // only 20 neighbours were searched
  EXPECT_THROW(local_fit_batched(p.head, p.data, cfg), InputError);
  cfg.k = 51;  // larger than the training set
  try {
    local_fit_batched(p.head, p.data, cfg);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("larger than the training set (N=50)"), std::string::npos);
  }
  cfg.k = 5;
  auto bad = p;
  bad.data.test_y = bad.data.test_y.clone();
  bad.data.test_y[0] = 5;  // the head has 5 classes: 0..4
  EXPECT_THROW(local_fit_reference(bad.head, bad.data, cfg), InputError);
  bad = p;
  bad.head.weight = torch::zeros({5, 7});
  EXPECT_THROW(local_fit_batched(bad.head, bad.data, cfg), InputError);
  cfg.lr = -1;
  EXPECT_THROW(local_fit_batched(p.head, p.data, cfg), InputError);
  cfg.lr = 0.1;
  cfg.beta2 = 1.0;
  EXPECT_THROW(local_fit_batched(p.head, p.data, cfg), InputError);
  EXPECT_THROW(local_fit_mode_from_string("full"), InputError);
}

TEST_F(LocalFit, RejectsNeighbourIndicesOutsideTheTrainingSet) {
  LocalFitConfig cfg;
  cfg.k = 5;
  for (const int64_t bad_index : {int64_t{-1}, int64_t{-50}, int64_t{50}}) {
    auto bad = random_problem(torch::kFloat32, 50, 4, 8, 5, 20);
    bad.data.neighbors[2][3] = bad_index;
    for (const bool batched : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "index " << bad_index << (batched ? " batched" : " reference"));
      test::expect_input_error(
          [&] { batched ? local_fit_batched(bad.head, bad.data, cfg) : local_fit_reference(bad.head, bad.data, cfg); },
          "TTT: a neighbour index is outside the training set [0, 50)", {});
    }
  }
  // Beyond the first k columns nothing is read: no error there.
  auto beyond = random_problem(torch::kFloat32, 50, 4, 8, 5, 20);
  beyond.data.neighbors[2][5] = -1;
  EXPECT_NO_THROW(local_fit_batched(beyond.head, beyond.data, cfg));
  // The shared check on its own, as the concept chunks use it.
  test::expect_input_error(
      [] {
        check_neighbor_indices(torch::tensor({{0, 1}, {-1, 2}}, torch::kLong), 3, "chunk");
      },
      "chunk: a neighbour index is outside the training set [0, 3)", {});
  EXPECT_NO_THROW(check_neighbor_indices(torch::tensor({{0, 1}, {2, 2}}, torch::kLong), 3, "chunk"));
}
