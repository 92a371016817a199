// Phi-hat kept sparse: the sparse neighbour search, the chunked TTT / masked TTT / statistics / O1
// cosines, and the global head trained on minibatches made dense, each against the same step on the
// dense rows (the reference); and the sparse rows' input checks.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/data/sparse_rows.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/neighbors/sparse_search.hpp"
#include "tttlab/sae/concept_analysis.hpp"
#include "tttlab/sae/concept_chunks.hpp"
#include "tttlab/train/global_train.hpp"

namespace {

using namespace tttlab;

// Rows with s distinct active columns of d, non-negative values (some exactly 0, as ReLU top-k
// codes have), and a few repeated rows so that distances tie.
SparseRows random_sparse(int64_t n, int64_t d, int64_t s, uint64_t seed) {
  torch::manual_seed(seed);
  SparseRows x;
  x.indices = std::get<1>(torch::rand({n, d}).topk(s, 1));
  x.values = torch::rand({n, s}) * torch::rand({n, s}).gt(0.1).to(torch::kFloat);
  x.dim = d;
  for (int64_t i = 5; i < n; i += 7) {  // copies of row i - 5
    x.indices[i].copy_(x.indices[i - 5]);
    x.values[i].copy_(x.values[i - 5]);
  }
  return x;
}

torch::Tensor all_dense(const SparseRows& x) { return dense_rows(x, 0, x.size()); }

class ConceptChunks : public ::testing::Test {
 protected:
  void SetUp() override { set_progress_enabled(false); }
};

TEST_F(ConceptChunks, SparseSearchEqualsDenseSearch) {
  const SparseRows train = random_sparse(300, 40, 4, 1), test = random_sparse(37, 40, 4, 2);
  const KnnResult dense = knn_search(all_dense(train), all_dense(test), 9, "torch");
  // A small block forces several query blocks and training tiles.
  for (int64_t block : {int64_t{256} << 20, int64_t{4096}}) {
    const KnnResult sparse = knn_search_sparse(train, test, 9, torch::kCPU, block);
    EXPECT_TRUE(torch::equal(sparse.indices, dense.indices)) << "block " << block;
    EXPECT_TRUE(torch::allclose(sparse.distances, dense.distances, 1e-6, 1e-7)) << "block " << block;
  }
}

TEST_F(ConceptChunks, ChunkedStepsEqualTheDenseSteps) {
  const int64_t d = 24, k = 10, c = 3;
  const SparseRows train = random_sparse(160, d, 3, 3), test = random_sparse(14, d, 3, 4);
  const auto xtr = all_dense(train), xte = all_dense(test);
  torch::manual_seed(5);
  const auto rule = torch::randn({c, d});
  const auto ytr = torch::matmul(xtr, rule.t()).argmax(1), yte = torch::matmul(xte, rule.t()).argmax(1);
  LinearHead head{rule + 0.8 * torch::randn({c, d}), torch::zeros({c})};
  const auto nb = knn_search(xtr, xte, k, "torch").indices;
  const LocalFitData dense{xtr, ytr, xte, yte, nb};
  // 4 test points per chunk: 4 chunks.
  const int64_t chunk_bytes = 4 * (k + 1) * d * 4;
  ASSERT_EQ(concept_chunk_points(k, d, chunk_bytes), 4);

  LocalFitConfig fit;
  fit.k = k;
  fit.steps = 20;
  fit.lr = 0.05;
  const LocalFitResult a = local_fit_batched(head, dense, fit);
  const LocalFitResult b = local_fit_sparse(head, train, ytr, test, yte, nb, fit, chunk_bytes);
  EXPECT_TRUE(torch::equal(a.pred, b.pred));
  EXPECT_TRUE(torch::allclose(a.logits, b.logits, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(a.ce, b.ce, 1e-5, 1e-6));

  MaskedFitConfig mc;
  mc.fit = fit;
  mc.penalty = 0.02;
  mc.mask_init = 0.5;
  for (bool fixed : {false, true}) {
    const auto own = fixed ? test_point_masks(test) : torch::Tensor();
    if (fixed) EXPECT_TRUE(torch::equal(own, test_point_masks(xte)));
    const MaskedFitResult ma = masked_fit_batched(head, dense, mc, own);
    const MaskedFitResult mb = masked_fit_sparse(head, train, ytr, test, yte, nb, mc, chunk_bytes, own);
    EXPECT_TRUE(torch::equal(ma.masks, mb.masks)) << "fixed " << fixed;
    EXPECT_TRUE(torch::equal(ma.fit.pred, mb.fit.pred)) << "fixed " << fixed;
    EXPECT_TRUE(torch::allclose(ma.fit.logits, mb.fit.logits, 1e-5, 1e-6)) << "fixed " << fixed;
    if (fixed) continue;
    const MaskStatistics sa = mask_statistics(ma.masks, dense, k);
    const MaskStatistics sb = mask_statistics_sparse(ma.masks, train, test, nb, k, chunk_bytes);
    EXPECT_TRUE(torch::equal(sa.mask_size, sb.mask_size));
    EXPECT_TRUE(torch::equal(sa.mask_in_neighborhood, sb.mask_in_neighborhood));
    EXPECT_TRUE(torch::equal(sa.neighborhood_concepts, sb.neighborhood_concepts));
    EXPECT_TRUE(torch::equal(sa.test_concepts, sb.test_concepts));
    EXPECT_TRUE(torch::equal(sa.kept_test_concepts, sb.kept_test_concepts));
  }
  EXPECT_TRUE(torch::allclose(mean_neighbor_cosine(xtr, xte, nb, k),
                              mean_neighbor_cosine_sparse(train, test, nb, k, chunk_bytes), 1e-12, 1e-12));
}

TEST_F(ConceptChunks, HeadOnDenseMinibatchesEqualsHeadOnDenseRows) {
  const SparseRows train = random_sparse(200, 16, 3, 6);
  const auto x = all_dense(train);
  const auto y = torch::matmul(x, torch::randn({16, 4})).argmax(1);
  TrainConfig cfg;
  cfg.epochs = 3;
  cfg.batch_size = 32;
  cfg.seed = 9;
  const LinearHead a = train_linear_head(Split{x, y}, 4, cfg);
  const LinearHead b =
      train_linear_head([&](const torch::Tensor& rows) { return dense_rows(train, rows); }, 16, y, 4, cfg);
  EXPECT_TRUE(torch::equal(a.weight, b.weight));
  EXPECT_TRUE(torch::equal(a.bias, b.bias));
}

TEST_F(ConceptChunks, BadSparseRowsAreInputErrors) {
  const SparseRows good = random_sparse(20, 10, 3, 7);
  SparseRows bad = good;
  bad.indices = good.indices.clone();
  bad.indices[2][1] = 10;
  test::expect_input_error([&] { knn_search_sparse(bad, good, 3); }, "out of range");
  bad.indices[2][1] = bad.indices[2][0].item<int64_t>();
  test::expect_input_error([&] { knn_search_sparse(bad, good, 3); }, "twice");
  bad = good;
  bad.values = good.values.clone();
  bad.values[0][0] = std::nanf("");
  test::expect_input_error([&] { knn_search_sparse(good, bad, 3); }, "NaN");
  test::expect_input_error([&] { knn_search_sparse(good, good, 21); }, "larger than the training set");
  bad = {torch::empty({20, 0}, torch::kLong), torch::empty({20, 0}), 10};
  test::expect_input_error([&] { knn_search_sparse(bad, good, 3); }, "at least one");
  bad = good;
  bad.dim = 12;
  test::expect_input_error([&] { knn_search_sparse(good, bad, 3); }, "width");
  // Neighbours must index the training rows.
  const LinearHead head{torch::zeros({2, 10}), torch::zeros({2})};
  const auto y = torch::zeros({20}, torch::kLong);
  LocalFitConfig fit;
  fit.k = 3;
  fit.steps = 1;
  const auto nb = torch::full({20, 3}, 20, torch::kLong);
  test::expect_input_error([&] { local_fit_sparse(head, good, y, good, y, nb, fit, int64_t{1} << 20); },
                           "outside the training set");
}

}  // namespace
