// Exact neighbour search: every index against a float64 brute force, the ties-by-index rule, the
// indexes against each other, and the input errors.
#include <gtest/gtest.h>

#include "test_support.hpp"

#include <string>
#include <vector>

#include <torch/torch.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/neighbors/torch_index.hpp"

namespace {

using tttlab::KnnResult;

std::vector<std::string> kinds() {
  std::vector<std::string> k{"torch"};
  if (tttlab::have_faiss()) k.push_back("faiss");
  return k;
}

struct Quiet : ::testing::Environment {
  void SetUp() override { tttlab::set_progress_enabled(false); }
};
const auto* const quiet_env = ::testing::AddGlobalTestEnvironment(new Quiet);

// Float64 squared distances [M, N] by direct differences, query block by query block.
torch::Tensor brute_distances(const torch::Tensor& train, const torch::Tensor& queries) {
  const auto x = train.to(torch::kDouble), q = queries.to(torch::kDouble);
  std::vector<torch::Tensor> rows;
  for (int64_t s = 0; s < q.size(0); s += 16) {
    const auto qb = q.slice(0, s, std::min<int64_t>(q.size(0), s + 16));
    rows.push_back((qb.unsqueeze(1) - x.unsqueeze(0)).pow(2).sum(-1));
  }
  return torch::cat(rows, 0);
}

// The full ranking of every query: rows sorted by (distance, index). With round_to_float the
// distances are rounded to float32 first (the precision the indexes return, so ties are ties there).
struct Ranking {
  torch::Tensor idx;   // int64 [M, N]
  torch::Tensor dist;  // double [M, N]
};
Ranking brute_ranking(const torch::Tensor& train, const torch::Tensor& queries, bool round_to_float) {
  auto d = brute_distances(train, queries);
  if (round_to_float) d = d.to(torch::kFloat).to(torch::kDouble);
  auto sorted = torch::sort(d, /*stable=*/true, 1, false);
  return {std::get<1>(sorted), std::get<0>(sorted)};
}

void expect_rows_sorted_by_distance_then_index(const KnnResult& r) {
  const auto d = r.distances.accessor<float, 2>();
  const auto i = r.indices.accessor<int64_t, 2>();
  for (int64_t row = 0; row < r.indices.size(0); ++row) {
    for (int64_t j = 1; j < r.indices.size(1); ++j) {
      ASSERT_TRUE(d[row][j - 1] < d[row][j] || (d[row][j - 1] == d[row][j] && i[row][j - 1] < i[row][j]))
          << "row " << row << " position " << j;
    }
  }
}

struct Case {
  int64_t d, k;
};

TEST(Neighbors, MatchFloat64BruteForce) {
  torch::manual_seed(1);
  const int64_t n = 2000, m = 300;
  for (const int64_t d : {16, 50}) {
    const auto train = torch::randn({n, d});
    const auto queries = torch::randn({m, d});
    const auto ref = brute_ranking(train, queries, /*round_to_float=*/false);
    for (const int64_t k : {int64_t{1}, int64_t{10}, int64_t{100}, n}) {
      for (const auto& kind : kinds()) {
        SCOPED_TRACE(kind + " d=" + std::to_string(d) + " k=" + std::to_string(k));
        const KnnResult r = tttlab::knn_search(train, queries, k, kind);
        ASSERT_EQ(r.indices.sizes(), (std::vector<int64_t>{m, k}));
        ASSERT_EQ(r.distances.sizes(), (std::vector<int64_t>{m, k}));
        ASSERT_EQ(r.indices.scalar_type(), torch::kLong);
        ASSERT_EQ(r.distances.scalar_type(), torch::kFloat);
        const auto rd = ref.dist.slice(1, 0, k);
        const auto rel = (r.distances.to(torch::kDouble) - rd).abs() / rd.clamp_min(1e-12);
        EXPECT_LT(rel.max().item<double>(), 1e-4);
        // Indices exactly where the reference has no near-tie around that rank.
        const auto full = ref.dist;
        const double tol = 1e-5;
        const auto gap_prev =
            torch::cat({torch::full({m, 1}, 1e30, torch::kDouble), full.slice(1, 1) - full.slice(1, 0, n - 1)}, 1);
        const auto gap_next =
            torch::cat({full.slice(1, 1) - full.slice(1, 0, n - 1), torch::full({m, 1}, 1e30, torch::kDouble)}, 1);
        const auto clear = (gap_prev > tol * full.abs().clamp_min(1.0)) & (gap_next > tol * full.abs().clamp_min(1.0));
        const auto checked = clear.slice(1, 0, k);
        const auto same = r.indices == ref.idx.slice(1, 0, k);
        EXPECT_TRUE((same | ~checked).all().item<bool>());
        EXPECT_GT(checked.to(torch::kDouble).mean().item<double>(), 0.9);  // most ranks are checked
        expect_rows_sorted_by_distance_then_index(r);
      }
    }
  }
}

TEST(Neighbors, ExactDuplicatesFollowIndexOrder) {
  // 200 distinct points, each present 3 times at shuffled positions; queries include copies of
  // training points (distance-0 ties). Ties (up to 3 at a time, also at the k-th boundary) must be
  // ordered by index exactly.
  torch::manual_seed(2);
  const int64_t base = 200, d = 8, m = 120;
  const auto points = torch::randn({base, d});
  const auto perm = torch::randperm(3 * base, torch::kLong);
  const auto train = points.repeat({3, 1}).index_select(0, perm);
  const auto queries = torch::cat({torch::randn({m - 20, d}), points.slice(0, 0, 20)}, 0);
  const auto ref = brute_ranking(train, queries, /*round_to_float=*/true);
  for (const int64_t k : {1, 2, 3, 4, 5, 7, 30}) {
    for (const auto& kind : kinds()) {
      SCOPED_TRACE(kind + " k=" + std::to_string(k));
      const KnnResult r = tttlab::knn_search(train, queries, k, kind);
      EXPECT_TRUE(torch::equal(r.indices, ref.idx.slice(1, 0, k)));
      expect_rows_sorted_by_distance_then_index(r);
    }
  }
}

TEST(Neighbors, HandWorkedTiesAtTheBoundary) {
  // 1-D points; from the query 0 the distances are 0, 1, 1, 1, 4, 1.
  const auto train = torch::tensor({0.f, 1.f, -1.f, 1.f, 2.f, -1.f}).reshape({6, 1});
  const auto queries = torch::tensor({0.f, 1.5f}).reshape({2, 1});
  for (const auto& kind : kinds()) {
    SCOPED_TRACE(kind);
    auto r = tttlab::knn_search(train, queries, 3, kind);
    EXPECT_TRUE(torch::equal(r.indices, torch::tensor({0, 1, 2, 1, 3, 4}, torch::kLong).reshape({2, 3})));
    EXPECT_TRUE(torch::equal(r.distances, torch::tensor({0.f, 1.f, 1.f, 0.25f, 0.25f, 0.25f}).reshape({2, 3})));
    r = tttlab::knn_search(train, queries, 5, kind);
    EXPECT_TRUE(torch::equal(r.indices, torch::tensor({0, 1, 2, 3, 5, 1, 3, 4, 0, 2}, torch::kLong).reshape({2, 5})));
  }
}

TEST(Neighbors, IndexesAgree) {
  if (!tttlab::have_faiss()) GTEST_SKIP() << "built without FAISS";
  torch::manual_seed(3);
  const auto train = torch::randn({1500, 32});
  const auto queries = torch::randn({200, 32});
  for (const int64_t k : {1, 17, 250}) {
    const auto a = tttlab::knn_search(train, queries, k, "torch");
    const auto b = tttlab::knn_search(train, queries, k, "faiss");
    EXPECT_TRUE(torch::equal(a.indices, b.indices)) << "k=" << k;
    EXPECT_TRUE(torch::equal(a.distances, b.distances)) << "k=" << k;
  }
}

TEST(Neighbors, TorchTilingDoesNotChangeResults) {
  torch::manual_seed(4);
  const auto train = torch::randn({700, 12});
  const auto queries = torch::randn({90, 12});
  tttlab::TorchIndex whole, tiled(torch::kCPU, /*block_bytes=*/4 * 40 * 64);  // many query and training tiles
  whole.add(train);
  tiled.add(train.slice(0, 0, 300));
  tiled.add(train.slice(0, 300));  // add twice: indices continue
  EXPECT_EQ(tiled.size(), 700);
  EXPECT_EQ(tiled.dim(), 12);
  for (const int64_t k : {1, 5, 60, 700}) {
    const auto a = whole.search(queries, k);
    const auto b = tiled.search(queries, k);
    EXPECT_TRUE(torch::equal(a.indices, b.indices)) << "k=" << k;
    EXPECT_TRUE(torch::equal(a.distances, b.distances)) << "k=" << k;
  }
}

TEST(Neighbors, AcceptsOtherFloatTypesAndEmptyQueries) {
  torch::manual_seed(5);
  const auto train = torch::randn({50, 4});
  const auto queries = torch::randn({7, 4});
  for (const auto& kind : kinds()) {
    const auto a = tttlab::knn_search(train, queries, 5, kind);
    const auto b = tttlab::knn_search(train.to(torch::kDouble), queries.to(torch::kDouble), 5, kind);
    EXPECT_TRUE(torch::equal(a.indices, b.indices)) << kind;
    const auto e = tttlab::knn_search(train, torch::empty({0, 4}), 5, kind);
    EXPECT_EQ(e.indices.sizes(), (std::vector<int64_t>{0, 5}));
  }
}

using tttlab::test::expect_input_error;

TEST(Neighbors, InputErrors) {
  const auto train = torch::randn({100, 8});
  const auto queries = torch::randn({5, 8});
  for (const auto& kind : kinds()) {
    SCOPED_TRACE(kind);
    expect_input_error([&] { tttlab::knn_search(train, queries, 0, kind); }, "k=0 (expected k >= 1)");
    expect_input_error([&] { tttlab::knn_search(train, queries, 200, kind); },
                       "k=200 is larger than the training set (N=100)");
    expect_input_error(
        [&] {
          tttlab::knn_search(train, torch::randn({5, 7}), 3, kind);
        },
        "queries have width 7 but the training points have width 8");
    expect_input_error([&] { tttlab::knn_search(torch::randn({100}), queries, 3, kind); },
                       "training points must be a 2-D [N, d] tensor, got shape [100]");
    expect_input_error(
        [&] {
          tttlab::knn_search(train, torch::randn({2, 2, 8}), 3, kind);
        },
        "queries must be a 2-D [M, d] tensor, got shape [2, 2, 8]");
    expect_input_error(
        [&] {
          tttlab::knn_search(torch::empty({0, 8}), queries, 3, kind);
        },
        "the training set is empty");
    auto bad = train.clone();
    bad[3][2] = std::numeric_limits<float>::quiet_NaN();
    expect_input_error([&] { tttlab::knn_search(bad, queries, 3, kind); }, "NaN or infinite");
    auto index = tttlab::make_index(kind);
    EXPECT_EQ(index->name(), kind);
    EXPECT_EQ(index->size(), 0);
    expect_input_error([&] { index->search(queries, 3); }, "search before add");
    index->add(train);
    expect_input_error([&] { index->add(torch::randn({10, 9})); }, "width 9 but the index holds points of width 8");
  }
  expect_input_error([] { tttlab::make_index("annoy"); }, "unknown neighbour index 'annoy'");
  if (!tttlab::have_faiss()) {
    expect_input_error([] { tttlab::make_index("faiss"); }, "built without FAISS");
  }
}

TEST(Neighbors, AutoPicksFaissWhenBuiltWithIt) {
  EXPECT_EQ(tttlab::make_index("auto")->name(), tttlab::have_faiss() ? "faiss" : "torch");
  EXPECT_EQ(tttlab::make_index("torch")->name(), "torch");
}

}  // namespace
