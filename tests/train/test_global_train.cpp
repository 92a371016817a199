#include <gtest/gtest.h>

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
