// k-means (FAISS against the Lloyd reference) and the mixture of experts.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/baselines/kmeans.hpp"
#include "tttlab/baselines/mixture_of_experts.hpp"
#include "tttlab/train/global_train.hpp"

using namespace tttlab;
using tttlab::test::expect_input_error;

namespace {

// Four tight blobs at (+-5, +-5) in 2-D, labels by XOR of the signs (no linear head fits them).
std::pair<torch::Tensor, torch::Tensor> xor_blobs(int64_t per_blob, uint64_t seed) {
  torch::manual_seed(seed);
  const auto centres = torch::tensor({5.0f, 5.0f, -5.0f, 5.0f, -5.0f, -5.0f, 5.0f, -5.0f}).reshape({4, 2});
  auto x = centres.repeat_interleave(per_blob, 0) + 0.8 * torch::randn({4 * per_blob, 2});
  const auto y = torch::tensor({0, 1, 0, 1}, torch::kLong).repeat_interleave(per_blob);
  return {x, y};
}

}  // namespace

TEST(KMeans, FaissAndLloydFindTheSameClusters) {
  const auto [x, y] = xor_blobs(60, 1);
  const auto truth = torch::tensor({5.0f, 5.0f, -5.0f, 5.0f, -5.0f, -5.0f, 5.0f, -5.0f}).reshape({4, 2});
  const KMeansResult ref = kmeans_lloyd(x, 4, 20, 0);
  const KMeansResult fast = kmeans(x, 4, 20, 0, "auto");
  for (const auto* r : {&ref, &fast}) {
    ASSERT_EQ(r->centroids.sizes(), (std::vector<int64_t>{4, 2}));
    // every true centre has a centroid within 0.5
    const auto d = knn_search(r->centroids, truth, 1, "torch").distances;
    EXPECT_LT(d.max().item<float>(), 0.25f);
  }
  EXPECT_NEAR(fast.inertia, ref.inertia, 1e-3 * ref.inertia);
  EXPECT_NEAR(ref.inertia, kmeans_inertia(x, ref.centroids), 1e-6 * ref.inertia);
  EXPECT_TRUE(kmeans_lloyd(x, 4, 20, 0).centroids.equal(ref.centroids));  // seeded
  const KMeansResult one = kmeans_lloyd(x, 1, 5, 0);
  EXPECT_TRUE(one.centroids[0].allclose(x.mean(0), 1e-4, 1e-4));
}

TEST(KMeans, BadInput) {
  const auto x = torch::randn({10, 3});
  expect_input_error([&] { kmeans_lloyd(x, 11, 5, 0); }, "11 clusters for 10 points");
  expect_input_error([&] { kmeans_lloyd(x, 0, 5, 0); }, "0 clusters");
  expect_input_error([&] { kmeans_lloyd(x, 2, 0, 0); }, "iterations=0");
  auto nan = x.clone();
  nan[0][0] = std::numeric_limits<float>::quiet_NaN();
  expect_input_error([&] { kmeans(nan, 2, 5, 0); }, "NaN");
  expect_input_error([&] { kmeans(x, 2, 5, 0, "other"); }, "backend 'other'");
}

TEST(MixtureOfExperts, ExpertsFitTheirClusters) {
  const auto [xtr, ytr] = xor_blobs(100, 2);
  const auto [xte, yte] = xor_blobs(25, 3);
  const Split train{xtr, ytr}, test{xte, yte};
  TrainConfig tc;
  tc.epochs = 20;
  tc.batch_size = 64;
  tc.lr = 1e-2;
  const LinearHead head = train_linear_head(train, 2, tc);
  const double global = head.logits(xte).argmax(1).eq(yte).to(torch::kDouble).mean().item<double>();
  EXPECT_LT(global, 0.8);  // no linear head fits XOR
  const MoeResult four = mixture_of_experts(head, train, test, {4, 0.1, 100, 50}, 0);
  const double acc4 = four.pred.eq(yte).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(acc4, 0.97);
  EXPECT_EQ(std::get<0>(at::_unique(four.route)).numel(), 4);
  EXPECT_EQ(four.ce.numel(), 100);
  // One expert is one head for everything: no better than a linear head can be.
  const MoeResult one = mixture_of_experts(head, train, test, {1, 0.1, 100, 400}, 0);
  EXPECT_TRUE(one.route.eq(0).all().item<bool>());
  EXPECT_LT(one.pred.eq(yte).to(torch::kDouble).mean().item<double>(), 0.8);
  expect_input_error([&] { mixture_of_experts(head, train, test, {401, 0.1, 10, 5}, 0); }, "401 experts");
  expect_input_error([&] { paper_moe_setting(7); }, "7 is not in Table 6");
  EXPECT_EQ(paper_moe_setting(1000).steps, 10);
}
