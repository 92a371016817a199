#include <gtest/gtest.h>

#include <cmath>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/ttt/local_fit.hpp"

using namespace tttlab;

namespace {

struct Problem {
  LinearHead head;
  LocalFitData data;
};

// Exact k nearest by squared L2, computed the plain way (for the test only).
torch::Tensor brute_force_neighbors(const torch::Tensor& train, const torch::Tensor& test, int64_t k) {
  const auto dist = torch::cdist(test.to(torch::kDouble), train.to(torch::kDouble));
  return std::get<1>(dist.topk(k, 1, /*largest=*/false, /*sorted=*/true));
}

Problem random_problem(torch::ScalarType dtype, int64_t n = 300, int64_t m = 13, int64_t d = 8,
                       int64_t c = 5, int64_t k = 20, uint64_t seed = 7) {
  torch::manual_seed(seed);
  const auto opts = torch::TensorOptions().dtype(dtype);
  Problem p;
  p.data.train_x = torch::randn({n, d}, opts);
  p.data.train_y = torch::randint(c, {n}, torch::kLong);
  p.data.test_x = torch::randn({m, d}, opts);
  p.data.test_y = torch::randint(c, {m}, torch::kLong);
  p.data.neighbors = brute_force_neighbors(p.data.train_x, p.data.test_x, k);
  p.head.weight = 0.3 * torch::randn({c, d}, opts);
  p.head.bias = 0.1 * torch::randn({c}, opts);
  return p;
}

double max_relative_difference(const torch::Tensor& a, const torch::Tensor& ref) {
  return (a - ref).abs().max().item<double>() / ref.abs().max().item<double>();
}

class LocalFit : public ::testing::Test {
 protected:
  void SetUp() override { set_progress_enabled(false); }
};

}  // namespace

TEST_F(LocalFit, BatchedMatchesReferenceFloat32) {
  const Problem p = random_problem(torch::kFloat32);
  LocalFitConfig cfg;
  cfg.k = 20;
  cfg.steps = 40;
  cfg.lr = 0.05;
  cfg.keep_heads = true;
  cfg.points_per_batch = 5;  // 13 points: batches of 5, 5, 3
  const auto ref = local_fit_reference(p.head, p.data, cfg);
  const auto fast = local_fit_batched(p.head, p.data, cfg);
  EXPECT_LT(max_relative_difference(fast.weights, ref.weights), 1e-5);
  EXPECT_LT(max_relative_difference(fast.biases, ref.biases), 1e-5);
  EXPECT_TRUE(torch::equal(fast.pred, ref.pred));
  EXPECT_LT((fast.ce - ref.ce).abs().max().item<double>(), 1e-4);
  // The heads really moved away from the global head (the comparison is not vacuous).
  EXPECT_GT((ref.weights[0] - p.head.weight).abs().max().item<double>(), 0.5);
}

TEST_F(LocalFit, BatchSizeDoesNotChangeResultsAndTheGlobalHeadIsLeftAlone) {
  // Regression: with one point per batch the adapted weights once aliased the global head.
  const Problem p = random_problem(torch::kFloat32, 200, 5, 6, 4, 10, 9);
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
    EXPECT_LT(max_relative_difference(fast.weights, ref.weights), 1e-5) << per_batch;
    EXPECT_TRUE(torch::equal(p.head.weight, weight_before)) << per_batch;
    EXPECT_TRUE(torch::equal(p.head.bias, bias_before)) << per_batch;
  }
}

TEST_F(LocalFit, BatchedMatchesReferenceWithWeightDecayBetasAndEps) {
  const Problem p = random_problem(torch::kFloat32, 200, 9, 6, 4, 15, 3);
  LocalFitConfig cfg;
  cfg.k = 15;
  cfg.steps = 25;
  cfg.lr = 0.02;
  cfg.weight_decay = 0.01;
  cfg.beta1 = 0.8;
  cfg.beta2 = 0.99;
  cfg.eps = 1e-6;
  cfg.keep_heads = true;
  const auto ref = local_fit_reference(p.head, p.data, cfg);
  const auto fast = local_fit_batched(p.head, p.data, cfg);
  EXPECT_LT(max_relative_difference(fast.weights, ref.weights), 1e-5);
  EXPECT_LT(max_relative_difference(fast.biases, ref.biases), 1e-5);
}

TEST_F(LocalFit, BatchedMatchesReferenceSequential) {
  const Problem p = random_problem(torch::kFloat32, 150, 7, 5, 3, 10, 11);
  LocalFitConfig cfg;
  cfg.k = 10;
  cfg.steps = 25;  // wraps around the 10 neighbours 2.5 times
  cfg.lr = 0.03;
  cfg.mode = LocalFitMode::Sequential;
  cfg.keep_heads = true;
  const auto ref = local_fit_reference(p.head, p.data, cfg);
  const auto fast = local_fit_batched(p.head, p.data, cfg);
  EXPECT_LT(max_relative_difference(fast.weights, ref.weights), 1e-5);
  EXPECT_LT(max_relative_difference(fast.biases, ref.biases), 1e-5);
}

TEST_F(LocalFit, BatchedMatchesReferenceFloat64Tightly) {
  const Problem p = random_problem(torch::kFloat64);
  LocalFitConfig cfg;
  cfg.k = 20;
  cfg.steps = 30;
  cfg.lr = 0.1;
  cfg.keep_heads = true;
  const auto ref = local_fit_reference(p.head, p.data, cfg);
  const auto fast = local_fit_batched(p.head, p.data, cfg);
  EXPECT_LT(max_relative_difference(fast.weights, ref.weights), 1e-10);
}

TEST_F(LocalFit, OneStepMovesEveryWeightByLrTimesGradientSign) {
  // After the first Adam step, m_hat / sqrt(v_hat) = g / |g|: each weight moves by -lr * sign(g).
  const Problem p = random_problem(torch::kFloat64, 100, 4, 3, 3, 10, 5);
  LocalFitConfig cfg;
  cfg.k = 10;
  cfg.steps = 1;
  cfg.lr = 0.01;
  cfg.keep_heads = true;
  const auto fast = local_fit_batched(p.head, p.data, cfg);
  for (int64_t i = 0; i < 4; ++i) {
    const auto idx = p.data.neighbors[i].slice(0, 0, 10);
    const auto x = p.data.train_x.index_select(0, idx);
    const auto y = p.data.train_y.index_select(0, idx);
    const auto probs = torch::softmax(torch::addmm(p.head.bias, x, p.head.weight.t()), 1);
    const auto g = torch::mm((probs - torch::one_hot(y, 3).to(torch::kDouble)).t(), x) / 10.0;
    const auto expected = p.head.weight - 0.01 * g / (g.abs() + 1e-8);
    EXPECT_LT((fast.weights[i] - expected).abs().max().item<double>(), 1e-12);
  }
}

TEST_F(LocalFit, ZeroStepsPredictsWithTheGlobalHead) {
  const Problem p = random_problem(torch::kFloat32);
  LocalFitConfig cfg;
  cfg.k = 5;
  cfg.steps = 0;
  const auto out = local_fit_batched(p.head, p.data, cfg);
  const auto global = p.head.logits(p.data.test_x);
  EXPECT_TRUE(torch::allclose(out.logits, global, 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(out.pred, global.argmax(1)));
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
  const Problem p = random_problem(torch::kFloat32, 50, 4, 8, 5, 20);
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
