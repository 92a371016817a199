// Masked TTT (eq. 3): the batched path against the per-point autograd reference, the fixed
// (non-adaptive) mask, the link to plain TTT, the penalty's effect, and the per-point statistics.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/sae/masked_ttt.hpp"

namespace {

using namespace tttlab;

struct ConceptProblem {
  LinearHead head;
  LocalFitData data;
};

// Sparse non-negative concept vectors (3 active of d1), labels from a random linear rule, a head
// that is the rule plus noise, and neighbours by L2 in concept space.
ConceptProblem concept_problem(torch::Dtype dtype, int64_t n = 120, int64_t m = 12, int64_t d1 = 20, int64_t c = 3,
                               int64_t k = 15) {
  torch::manual_seed(21);
  auto sparse = [&](int64_t rows) {
    auto x = torch::zeros({rows, d1}, torch::kDouble);
    x.scatter_(1, torch::randint(0, d1, {rows, 3}, torch::kLong), torch::rand({rows, 3}, torch::kDouble) + 0.2);
    return x;
  };
  const auto rule = torch::randn({c, d1}, torch::kDouble);
  const auto xtr = sparse(n), xte = sparse(m);
  ConceptProblem p;
  p.head.weight = (rule + 0.8 * torch::randn({c, d1}, torch::kDouble)).to(dtype);
  p.head.bias = torch::zeros({c}, dtype);
  const auto dist = torch::cdist(xte, xtr);
  p.data = {xtr.to(dtype), torch::matmul(xtr, rule.t()).argmax(1), xte.to(dtype),
            torch::matmul(xte, rule.t()).argmax(1), std::get<1>(dist.topk(k, 1, false, true))};
  return p;
}

MaskedFitConfig masked_config(int64_t k = 15) {
  MaskedFitConfig cfg;
  cfg.fit.k = k;
  cfg.fit.steps = 30;
  cfg.fit.lr = 0.05;
  cfg.penalty = 0.02;
  cfg.temperature = 0.1;
  cfg.mask_init = 0.5;
  return cfg;
}

class MaskedTtt : public ::testing::Test {
 protected:
  void SetUp() override { set_progress_enabled(false); }
};

TEST_F(MaskedTtt, BatchedAgreesWithReference) {
  const ConceptProblem p = concept_problem(torch::kDouble);
  MaskedFitConfig cfg = masked_config();
  cfg.fit.keep_heads = true;
  const MaskedFitResult ref = masked_fit_reference(p.head, p.data, cfg);
  for (int64_t per_batch : {0, 5, 1}) {
    cfg.fit.points_per_batch = per_batch;
    const MaskedFitResult bat = masked_fit_batched(p.head, p.data, cfg);
    EXPECT_TRUE(torch::equal(ref.masks, bat.masks)) << "points per batch " << per_batch;
    EXPECT_TRUE(torch::allclose(ref.fit.weights, bat.fit.weights, 1e-9, 1e-10)) << per_batch;
    EXPECT_TRUE(torch::allclose(ref.fit.logits, bat.fit.logits, 1e-9, 1e-10)) << per_batch;
    EXPECT_TRUE(torch::equal(ref.fit.pred, bat.fit.pred));
  }
  // The masks did move: some concepts were switched off, some kept.
  const auto size = ref.masks.sum(1).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(size, 0.5);
  EXPECT_LT(size, 19.5);
}

TEST_F(MaskedTtt, FloatBatchedAgreesWithReference) {
  const ConceptProblem p = concept_problem(torch::kFloat);
  const MaskedFitConfig cfg = masked_config();
  const MaskedFitResult ref = masked_fit_reference(p.head, p.data, cfg);
  const MaskedFitResult bat = masked_fit_batched(p.head, p.data, cfg);
  // theta rarely sits within float rounding of 0, so the masks agree on (nearly) every entry.
  EXPECT_GE(ref.masks.eq(bat.masks).to(torch::kDouble).mean().item<double>(), 0.99);
  EXPECT_GE(ref.fit.pred.eq(bat.fit.pred).to(torch::kDouble).mean().item<double>(), 0.9);
}

TEST_F(MaskedTtt, FixedMaskAgreesWithReferenceAndAllOnesIsPlainTtt) {
  const ConceptProblem p = concept_problem(torch::kDouble);
  MaskedFitConfig cfg = masked_config();
  cfg.fit.keep_heads = true;
  const auto own = test_point_masks(p.data.test_x);
  const MaskedFitResult ref = masked_fit_reference(p.head, p.data, cfg, own);
  const MaskedFitResult bat = masked_fit_batched(p.head, p.data, cfg, own);
  EXPECT_TRUE(torch::equal(bat.masks, own));
  EXPECT_TRUE(torch::allclose(ref.fit.weights, bat.fit.weights, 1e-9, 1e-10));
  EXPECT_TRUE(torch::allclose(ref.fit.logits, bat.fit.logits, 1e-9, 1e-10));
  // With every concept kept, masked TTT is plain TTT.
  const auto all = torch::ones({12, 20}, torch::kBool);
  const MaskedFitResult ones = masked_fit_batched(p.head, p.data, cfg, all);
  const LocalFitResult plain = local_fit_batched(p.head, p.data, cfg.fit);
  EXPECT_TRUE(torch::allclose(ones.fit.logits, plain.logits, 1e-9, 1e-10));
}

TEST_F(MaskedTtt, LargerPenaltyGivesSmallerMasks) {
  const ConceptProblem p = concept_problem(torch::kDouble);
  MaskedFitConfig cfg = masked_config();
  cfg.fit.steps = 60;
  cfg.penalty = 0.0;
  const MaskedFitResult none = masked_fit_batched(p.head, p.data, cfg);
  cfg.penalty = 0.5;
  const MaskedFitResult strong = masked_fit_batched(p.head, p.data, cfg);
  const auto s0 = mask_statistics(none.masks, p.data, cfg.fit.k);
  const auto s1 = mask_statistics(strong.masks, p.data, cfg.fit.k);
  // lambda = 0: units no neighbour uses get no gradient and stay on.
  EXPECT_TRUE(s0.mask_size.ge(20 - s0.neighborhood_concepts).all().item<bool>());
  EXPECT_LT(s1.mask_size.sum().item<int64_t>(), s0.mask_size.sum().item<int64_t>());
  // With the penalty, units outside the neighbourhood (no loss gradient) are switched off.
  EXPECT_TRUE(s1.mask_size.eq(s1.mask_in_neighborhood).all().item<bool>());
}

TEST_F(MaskedTtt, StatisticsOfAHandWorkedCase) {
  // Two test points, d1 = 5, k = 2.
  LocalFitData data;
  data.train_x = torch::tensor({{1.0, 0.0, 0.0, 2.0, 0.0}, {0.0, 1.0, 0.0, 0.0, 0.0}, {0.0, 0.0, 3.0, 0.0, 1.0}});
  data.train_y = torch::tensor({0, 1, 0}, torch::kLong);
  data.test_x = torch::tensor({{1.0, 1.0, 0.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 0.0, 4.0}});
  data.neighbors = torch::tensor({{0, 1}, {2, 0}}, torch::kLong);
  const auto masks = torch::tensor({{1, 0, 0, 1, 1}, {0, 0, 1, 0, 0}}, torch::kLong).to(torch::kBool);
  const MaskStatistics s = mask_statistics(masks, data, 2);
  EXPECT_TRUE(torch::equal(s.mask_size, torch::tensor({3, 1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(s.neighborhood_concepts, torch::tensor({3, 4}, torch::kLong)));  // {0,1,3}, {0,2,3,4}
  EXPECT_TRUE(torch::equal(s.mask_in_neighborhood, torch::tensor({2, 1}, torch::kLong)));   // {0,3}, {2}
  EXPECT_TRUE(torch::equal(s.test_concepts, torch::tensor({2, 1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(s.kept_test_concepts, torch::tensor({1, 0}, torch::kLong)));  // {0}, {}
}

TEST_F(MaskedTtt, BadSettingsAreInputErrors) {
  const ConceptProblem p = concept_problem(torch::kDouble);
  MaskedFitConfig cfg = masked_config();
  cfg.temperature = 0;
  test::expect_input_error([&] { masked_fit_batched(p.head, p.data, cfg); }, "temperature");
  cfg = masked_config();
  cfg.mask_init = -1;
  test::expect_input_error([&] { masked_fit_batched(p.head, p.data, cfg); }, "mask init");
  cfg = masked_config();
  test::expect_input_error(
      [&] {
        masked_fit_batched(p.head, p.data, cfg, torch::ones({3, 20}, torch::kBool));
      },
      "fixed masks");
}

}  // namespace
