#include "tttlab/neighbors/candidates.hpp"

#include <algorithm>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/core/shape.hpp"

namespace tttlab::neighbors_detail {

namespace {

torch::Tensor as_float32(const torch::Tensor& t, const char* what) {
  require_input(t.is_floating_point() || t.scalar_type() == torch::kInt || t.scalar_type() == torch::kLong,
                "neighbours: {} must be floating point, got {}", what, c10::toString(t.scalar_type()));
  auto out = t.to(torch::kFloat).contiguous();
  require_input(out.numel() == 0 || torch::isfinite(out).all().item<bool>(),
                "neighbours: {} contain NaN or infinite values", what);
  return out;
}

}  // namespace

torch::Tensor checked_train(const torch::Tensor& train, int64_t dim, const std::string& index_name) {
  require_input(train.defined(), "neighbours ({}): training points are undefined", index_name);
  require_input(train.dim() == 2, "neighbours ({}): training points must be a 2-D [N, d] tensor, got shape {}",
                index_name, shape_string(train.sizes()));
  require_input(train.size(0) > 0, "neighbours ({}): the training set is empty (N=0)", index_name);
  require_input(train.size(1) > 0, "neighbours ({}): training points have width d=0", index_name);
  require_input(dim == 0 || train.size(1) == dim,
                "neighbours ({}): training points have width {} but the index holds points of width {}", index_name,
                train.size(1), dim);
  return as_float32(train, "training points");
}

torch::Tensor checked_queries(const torch::Tensor& queries, int64_t k, int64_t size, int64_t dim,
                              const std::string& index_name) {
  require_input(size > 0, "neighbours ({}): search before add (the index has no training points)", index_name);
  require_input(queries.defined(), "neighbours ({}): queries are undefined", index_name);
  require_input(queries.dim() == 2, "neighbours ({}): queries must be a 2-D [M, d] tensor, got shape {}", index_name,
                shape_string(queries.sizes()));
  require_input(queries.size(1) == dim, "neighbours ({}): queries have width {} but the training points have width {}",
                index_name, queries.size(1), dim);
  require_input(k >= 1, "neighbours ({}): k={} (expected k >= 1)", index_name, k);
  require_input(k <= size, "neighbours ({}): k={} is larger than the training set (N={})", index_name, k, size);
  return as_float32(queries, "queries");
}

int64_t candidate_count(int64_t k, int64_t n) { return k + std::min<int64_t>(16, n - k); }

KnnResult select_k(const torch::Tensor& train, const torch::Tensor& queries, const torch::Tensor& candidates,
                   int64_t k) {
  const int64_t b = candidates.size(0), kc = candidates.size(1), d = train.size(1);
  TORCH_CHECK(kc >= k, "select_k: ", kc, " candidates for k=", k);
  // Exact distances of the candidates, in chunks of queries of at most ~64 MB of float64.
  const int64_t per_row = std::max<int64_t>(1, kc * d * 8);
  const int64_t chunk = std::max<int64_t>(1, (int64_t{64} << 20) / per_row);
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < b; s += chunk) {
    const int64_t e = std::min(b, s + chunk);
    const auto cand = candidates.slice(0, s, e);
    const auto pts = train.index_select(0, cand.reshape({-1})).view({e - s, kc, d}).to(torch::kDouble);
    const auto q = queries.slice(0, s, e).to(torch::kDouble).unsqueeze(1);
    parts.push_back((pts - q).pow(2).sum(-1).to(torch::kFloat));
  }
  return keep_k_by_distance_then_index(candidates, parts.size() == 1 ? parts[0] : torch::cat(parts, 0), k);
}

KnnResult keep_k_by_distance_then_index(const torch::Tensor& candidates, const torch::Tensor& distances, int64_t k) {
  // Order by index, then stable sort by distance: rows sorted by (distance, index).
  auto by_index = candidates.sort(1);
  auto idx = std::get<0>(by_index);
  auto dist = distances.gather(1, std::get<1>(by_index));
  auto by_dist = torch::sort(dist, /*stable=*/true, /*dim=*/1, /*descending=*/false);
  idx = idx.gather(1, std::get<1>(by_dist));
  return {idx.slice(1, 0, k).contiguous(), std::get<0>(by_dist).slice(1, 0, k).contiguous()};
}

torch::Tensor smallest_in_tiles(int64_t n, int64_t tile, int64_t kc, const TileDistanceFn& tile_distances) {
  torch::Tensor best_d, best_i;
  for (int64_t ts = 0; ts < n; ts += tile) {
    const int64_t te = std::min(n, ts + tile);
    auto top = tile_distances(ts, te).topk(std::min(kc, te - ts), 1, /*largest=*/false, /*sorted=*/false);
    auto d = std::get<0>(top);
    auto i = std::get<1>(top) + ts;
    if (best_d.defined()) {
      d = torch::cat({best_d, d}, 1);
      i = torch::cat({best_i, i}, 1);
      if (d.size(1) > kc) {
        auto merged = d.topk(kc, 1, /*largest=*/false, /*sorted=*/false);
        d = std::get<0>(merged);
        i = i.gather(1, std::get<1>(merged));
      }
    }
    best_d = d;
    best_i = i;
  }
  return best_i;
}

KnnResult search_in_blocks(const torch::Tensor& train, const torch::Tensor& queries, int64_t k, int64_t block,
                           torch::Device out_device, const CandidateFn& candidates) {
  const int64_t m = queries.size(0);
  if (m == 0) {
    return {torch::empty({0, k}, torch::kLong).to(out_device), torch::empty({0, k}, torch::kFloat).to(out_device)};
  }
  std::vector<torch::Tensor> all_idx, all_dist;
  ProgressBar bar("neighbours", m, "queries");
  for (int64_t qs = 0; qs < m; qs += block) {
    const int64_t qe = std::min(m, qs + block);
    const auto qblk = queries.slice(0, qs, qe);
    auto res = select_k(train, qblk, candidates(qblk), k);
    all_idx.push_back(res.indices);
    all_dist.push_back(res.distances);
    bar.advance(qe - qs);
  }
  bar.finish();
  return {torch::cat(all_idx, 0).to(out_device), torch::cat(all_dist, 0).to(out_device)};
}

}  // namespace tttlab::neighbors_detail
