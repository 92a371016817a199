#include "tttlab/neighbors/sparse_search.hpp"

#include <algorithm>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/neighbors/candidates.hpp"

namespace tttlab {

namespace {

// Squared distances of the queries q (float32 [B, d], dense) to their candidate training rows
// (int64 [B, K]) in float64, rounded to float32: |q - x|^2 = |q|^2 + sum over x's stored columns j
// of ((q_j - x_j)^2 - q_j^2), which touches s values per candidate instead of d.
torch::Tensor exact_distances(const SparseRows& train, const torch::Tensor& q, const torch::Tensor& candidates) {
  const int64_t b = candidates.size(0), kc = candidates.size(1), s = train.indices.size(1);
  const auto flat = candidates.reshape({-1});
  const auto cols = train.indices.index_select(0, flat).view({b, kc * s});
  const auto vals = train.values.index_select(0, flat).view({b, kc, s}).to(torch::kDouble);
  const auto qd = q.to(torch::kDouble);
  const auto qj = qd.gather(1, cols).view({b, kc, s});
  const auto per_candidate = ((qj - vals).pow(2) - qj.pow(2)).sum(-1);  // [B, K]
  return (qd.pow(2).sum(1, /*keepdim=*/true) + per_candidate).clamp_min(0).to(torch::kFloat);
}

}  // namespace

KnnResult knn_search_sparse(const SparseRows& train_in, const SparseRows& queries_in, int64_t k, torch::Device device,
                            int64_t block_bytes) {
  torch::NoGradGuard no_grad;
  train_in.validate("neighbours (sparse): training rows");
  queries_in.validate("neighbours (sparse): queries");
  const int64_t n = train_in.size(), m = queries_in.size(), d = train_in.dim, s = train_in.indices.size(1);
  require_input(n > 0, "neighbours (sparse): the training set is empty (N=0)");
  require_input(queries_in.dim == d, "neighbours (sparse): queries have width {} but the training rows have width {}",
                queries_in.dim, d);
  require_input(k >= 1, "neighbours (sparse): k={} (expected k >= 1)", k);
  require_input(k <= n, "neighbours (sparse): k={} is larger than the training set (N={})", k, n);
  require_input(block_bytes >= 4, "neighbours (sparse): block size {} bytes is too small", block_bytes);
  if (m == 0) return {torch::empty({0, k}, torch::kLong), torch::empty({0, k}, torch::kFloat)};
  const SparseRows train = train_in.to(device), queries = queries_in.to(device);
  const auto train_norms = squared_norms(train);
  const int64_t kc = neighbors_detail::candidate_count(k, n);

  // Query blocks of at most 1,024 (CPU) or 8,192 (GPU) dense rows, also within the budget; training
  // tiles so that one tile's [tile, block] inner products fit it.
  const int64_t elems = std::max<int64_t>(1, block_bytes / 4);
  int64_t qb = std::min<int64_t>(m, device.is_cuda() ? 8192 : 1024);
  qb = std::max<int64_t>(1, std::min<int64_t>(qb, elems / std::max<int64_t>(d, std::min<int64_t>(n, 256))));
  const int64_t tile = std::clamp<int64_t>(elems / qb, 1, n);
  const auto offsets = torch::arange(0, tile * s, s, train.indices.options());

  std::vector<torch::Tensor> all_idx, all_dist;
  ProgressBar bar("neighbours (sparse)", m, "queries");
  for (int64_t qs = 0; qs < m; qs += qb) {
    const int64_t qe = std::min(m, qs + qb);
    const auto q = dense_rows(queries, qs, qe);  // [B, d]
    const auto table = q.t().contiguous();       // [d, B]: row j holds column j of every query
    const auto qn = q.pow(2).sum(1, /*keepdim=*/true);
    const auto candidates = neighbors_detail::smallest_in_tiles(n, tile, kc, [&](int64_t ts, int64_t te) {
      // x.q for every training row x of the tile: the sum of its s (column, value) pairs' rows of
      // the table, weighted by the values.
      const auto dots = std::get<0>(torch::embedding_bag(table, train.indices.slice(0, ts, te).reshape({-1}),
                                                         offsets.slice(0, 0, te - ts), false, /*sum=*/0, false,
                                                         train.values.slice(0, ts, te).reshape({-1})));  // [te - ts, B]
      auto dist = qn + train_norms.slice(0, ts, te).unsqueeze(0);
      return dist.sub_(dots.t(), /*alpha=*/2).clamp_min_(0);
    });
    const auto res =
        neighbors_detail::keep_k_by_distance_then_index(candidates, exact_distances(train, q, candidates), k);
    all_idx.push_back(res.indices.to(torch::kCPU));
    all_dist.push_back(res.distances.to(torch::kCPU));
    bar.advance(qe - qs);
  }
  bar.finish();
  return {torch::cat(all_idx, 0), torch::cat(all_dist, 0)};
}

}  // namespace tttlab
