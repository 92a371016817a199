#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "tttlab/core/progress.hpp"
#include "tttlab/train/global_train.hpp"

using namespace tttlab;

namespace {
Split blobs(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  const auto y = torch::randint(3, {n}, torch::kLong);
  const auto centers = torch::tensor({{3.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 3.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 3.0f, 0.0f}});
  return {centers.index_select(0, y) + torch::randn({n, 4}), y};
}
}  // namespace

TEST(GlobalTrain, LinearHeadLearnsSeparableBlobsAndLossFalls) {
  set_progress_enabled(false);
  const Split train = blobs(600, 1), test = blobs(300, 2);
  TrainLog log;
  const LinearHead head = train_linear_head(train, 3, {15, 32, 0.05, 0.0, 0}, &log);
  ASSERT_EQ(log.epoch_loss.size(), 15u);
  EXPECT_LT(log.epoch_loss.back(), 0.5 * log.epoch_loss.front());
  const double acc = head.logits(test.x).argmax(1).eq(test.y).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(acc, 0.9);
}

TEST(GlobalTrain, SameSeedSameHeadDifferentSeedDifferentHead) {
  set_progress_enabled(false);
  const Split train = blobs(200, 1);
  const auto a = train_linear_head(train, 3, {2, 16, 0.01, 0.0, 5});
  const auto b = train_linear_head(train, 3, {2, 16, 0.01, 0.0, 5});
  const auto c = train_linear_head(train, 3, {2, 16, 0.01, 0.0, 6});
  EXPECT_TRUE(torch::equal(a.weight, b.weight));
  EXPECT_FALSE(torch::equal(a.weight, c.weight));
}

TEST(GlobalTrain, LeNetFitsASmallImageTaskAndExtractsFeatures) {
  set_progress_enabled(false);
  // Class = which image quadrant is bright.
  torch::manual_seed(0);
  const int64_t n = 400;
  const auto y = torch::randint(4, {n}, torch::kLong);
  auto x = 0.1 * torch::rand({n, 1, 28, 28});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t q = y[i].item<int64_t>();
    x[i].slice(1, (q / 2) * 14, (q / 2) * 14 + 14).slice(2, (q % 2) * 14, (q % 2) * 14 + 14).add_(0.8);
  }
  FlexibleLeNet net(LeNetShape::from_scale(0.5, 4));
  const TrainLog log = train_classifier(
      *net, [&](const torch::Tensor& t) { return net->forward(t); }, {x, y}, {8, 50, 5e-3, 0.0, 0}, "test");
  EXPECT_LT(log.epoch_loss.back(), 0.3);
  const auto feats = extract_features(net, x, "embed", 64);
  EXPECT_EQ(feats.sizes(), (std::vector<int64_t>{n, 50}));
  const auto logits = net->head()->forward(feats);
  EXPECT_GT(logits.argmax(1).eq(y).to(torch::kDouble).mean().item<double>(), 0.95);
}

// The fixed-budget rule: converged when the monitored loss fell by < 1% over the last tenth of the
// epochs (at least one), measured from the epoch before that tail.
TEST(Convergence, FixedBudgetRuleByHand) {
  // 20 epochs: the tail is the last 2; from 0.500 (epoch 18) to min(0.498, 0.497): 0.6% -> converged.
  std::vector<double> flat(17, 1.0);
  flat.insert(flat.end(), {0.5, 0.498, 0.497});
  auto [ok, why] = budget_convergence(flat, "training loss");
  EXPECT_TRUE(ok) << why;
  EXPECT_NE(why.find("last 2 of 20 epochs"), std::string::npos) << why;
  // From 0.70 to 0.41 over the tail: still falling -> not converged, and the phrase says by how much.
  std::vector<double> falling(17, 1.0);
  falling.insert(falling.end(), {0.70, 0.5, 0.41});
  std::tie(ok, why) = budget_convergence(falling, "training loss");
  EXPECT_FALSE(ok);
  EXPECT_NE(why.find("still falling"), std::string::npos) << why;
  EXPECT_NE(why.find("0.7 -> 0.41"), std::string::npos) << why;
  // A loss that rises at the end (overfitting on validation) has stopped improving.
  std::tie(ok, why) = budget_convergence({1.0, 0.9, 0.8, 0.7, 0.65, 0.6, 0.6, 0.6, 0.61, 0.65}, "validation loss");
  EXPECT_TRUE(ok) << why;
  // Fewer than 10 epochs cannot show a level, even when the loss does not move (a tiny lr).
  std::tie(ok, why) = budget_convergence({0.3, 0.3, 0.3}, "training loss");
  EXPECT_FALSE(ok);
  EXPECT_NE(why.find("too few"), std::string::npos) << why;
}

TEST(Convergence, UndertrainedHeadWarnsAndPatienceStopsAConvergedOne) {
  set_progress_enabled(false);
  const Split train = blobs(600, 1), val = blobs(300, 3);
  // Two epochs at a small learning rate: far from converged.
  TrainLog log;
  train_linear_head(train, 3, {2, 64, 1e-3, 0.0, 0}, &log);
  EXPECT_FALSE(log.converged);
  EXPECT_EQ(log.epochs_run, 2);
  const std::string warning = convergence_warning(log, "the global head", "raise --head-epochs");
  EXPECT_EQ(warning.rfind("warning: the global head did not converge (", 0), 0u) << warning;
  EXPECT_EQ(warning.find('\n'), std::string::npos);

  // Early stopping on the validation loss: stops well before the maximum and counts as converged;
  // the kept epoch is the best validation epoch, and the head is that epoch's.
  TrainConfig cfg{500, 32, 0.05, 0.0, 0};
  cfg.patience = 5;
  TrainLog es;
  const LinearHead head = train_linear_head(train, 3, cfg, &es, &val);
  EXPECT_TRUE(es.converged) << es.convergence;
  EXPECT_LT(es.epochs_run, 500);
  EXPECT_EQ(es.val_loss.size(), static_cast<size_t>(es.epochs_run));
  EXPECT_EQ(es.monitored, "validation loss");
  ASSERT_TRUE(es.final_val_loss().has_value());
  EXPECT_DOUBLE_EQ(*es.final_val_loss(), *std::min_element(es.val_loss.begin(), es.val_loss.end()));
  const auto logits = head.logits(val.x);
  const double kept_loss = torch::nn::functional::cross_entropy(logits, val.y).item<double>();
  EXPECT_NEAR(kept_loss, *es.final_val_loss(), 1e-5);
  EXPECT_EQ(convergence_warning(es, "the global head", ""), "");

  // The maximum reached while the loss still improves: not converged.
  cfg.epochs = 3;
  cfg.lr = 1e-3;
  TrainLog capped;
  train_linear_head(train, 3, cfg, &capped, &val);
  EXPECT_FALSE(capped.converged);
  EXPECT_NE(capped.convergence.find("still improving after the maximum of 3 epochs"), std::string::npos)
      << capped.convergence;
}
