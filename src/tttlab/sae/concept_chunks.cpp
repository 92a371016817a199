#include "tttlab/sae/concept_chunks.hpp"

#include <algorithm>
#include <vector>

#include "tttlab/core/error.hpp"
#include "tttlab/sae/concept_analysis.hpp"
#include "tttlab/ttt/local_fit_common.hpp"

namespace tttlab {

int64_t concept_chunk_points(int64_t k, int64_t dim, int64_t max_bytes) {
  return std::max<int64_t>(1, max_bytes / std::max<int64_t>(1, (k + 1) * dim * 4));
}

void for_each_concept_chunk(const SparseRows& train_in, const torch::Tensor& train_y, const SparseRows& test_in,
                            const torch::Tensor& test_y, const torch::Tensor& neighbors, int64_t k, int64_t points,
                            const std::function<void(const ConceptChunk&)>& fn, torch::Device device) {
  const int64_t m = test_in.size();
  const SparseRows train = train_in.to(device), test = test_in.to(device);
  require_input(neighbors.dim() == 2 && neighbors.size(0) == m && neighbors.size(1) >= k,
                "concept chunks: neighbours must be [M={}, >= k={}]", m, k);
  require_input(points >= 1, "concept chunks: {} points per chunk", points);
  check_neighbor_indices(neighbors, train.size(), "concept chunks");
  for (int64_t begin = 0; begin < m; begin += points) {
    const int64_t end = std::min(m, begin + points);
    const auto nb = neighbors.slice(0, begin, end).slice(1, 0, k).to(device, torch::kLong);
    // The distinct training rows of the chunk and each neighbour's place among them.
    const auto [rows, inverse] = at::_unique(nb.reshape({-1}), /*sorted=*/true, /*return_inverse=*/true);
    ConceptChunk chunk;
    chunk.begin = begin;
    chunk.end = end;
    chunk.data.train_x = dense_rows(train, rows);
    chunk.data.train_y = train_y.index_select(0, rows.to(train_y.device()));
    chunk.data.test_x = dense_rows(test, begin, end);
    if (test_y.defined()) chunk.data.test_y = test_y.slice(0, begin, end);
    chunk.data.neighbors = inverse.reshape({end - begin, k});
    fn(chunk);
  }
}

namespace {

// Concatenates per-chunk tensors along rows (undefined stays undefined).
torch::Tensor join(const std::vector<torch::Tensor>& parts) {
  if (parts.empty() || !parts.front().defined()) return {};
  return parts.size() == 1 ? parts.front() : torch::cat(parts, 0);
}

struct FitParts {
  std::vector<torch::Tensor> pred, logits, ce;
  void add(const LocalFitResult& r) {
    pred.push_back(r.pred);
    logits.push_back(r.logits);
    ce.push_back(r.ce);
  }
  LocalFitResult joined() const { return {join(pred), join(logits), join(ce), {}, {}}; }
};

}  // namespace

LocalFitResult local_fit_sparse(const LinearHead& head, const SparseRows& train, const torch::Tensor& train_y,
                                const SparseRows& test, const torch::Tensor& test_y, const torch::Tensor& neighbors,
                                const LocalFitConfig& cfg, int64_t chunk_bytes) {
  require_input(!cfg.keep_heads, "TTT on sparse concept rows does not keep the adapted heads");
  FitParts parts;
  for_each_concept_chunk(
      train, train_y, test, test_y, neighbors, cfg.k, concept_chunk_points(cfg.k, train.dim, chunk_bytes),
      [&](const ConceptChunk& c) { parts.add(local_fit_batched(head, c.data, cfg)); }, cfg.device);
  return parts.joined();
}

MaskedFitResult masked_fit_sparse(const LinearHead& head, const SparseRows& train, const torch::Tensor& train_y,
                                  const SparseRows& test, const torch::Tensor& test_y, const torch::Tensor& neighbors,
                                  const MaskedFitConfig& cfg, int64_t chunk_bytes, const torch::Tensor& fixed_masks) {
  require_input(!cfg.fit.keep_heads, "masked TTT on sparse concept rows does not keep the adapted heads");
  FitParts parts;
  std::vector<torch::Tensor> masks;
  for_each_concept_chunk(
      train, train_y, test, test_y, neighbors, cfg.fit.k, concept_chunk_points(cfg.fit.k, train.dim, chunk_bytes),
      [&](const ConceptChunk& c) {
        const auto fixed = fixed_masks.defined() ? fixed_masks.slice(0, c.begin, c.end) : torch::Tensor();
        const MaskedFitResult r = masked_fit_batched(head, c.data, cfg, fixed);
        parts.add(r.fit);
        masks.push_back(r.masks);
      },
      cfg.fit.device);
  return {parts.joined(), join(masks)};
}

MaskStatistics mask_statistics_sparse(const torch::Tensor& masks, const SparseRows& train, const SparseRows& test,
                                      const torch::Tensor& neighbors, int64_t k, int64_t chunk_bytes) {
  std::vector<torch::Tensor> size, in_nbhd, nbhd, test_c, kept;
  const auto no_labels = torch::zeros({train.size()}, torch::kLong);
  for_each_concept_chunk(train, no_labels, test, {}, neighbors, k, concept_chunk_points(k, train.dim, chunk_bytes),
                         [&](const ConceptChunk& c) {
                           const MaskStatistics s = mask_statistics(masks.slice(0, c.begin, c.end), c.data, k);
                           size.push_back(s.mask_size);
                           in_nbhd.push_back(s.mask_in_neighborhood);
                           nbhd.push_back(s.neighborhood_concepts);
                           test_c.push_back(s.test_concepts);
                           kept.push_back(s.kept_test_concepts);
                         });
  return {join(size), join(in_nbhd), join(nbhd), join(test_c), join(kept)};
}

torch::Tensor mean_neighbor_cosine_sparse(const SparseRows& train, const SparseRows& test,
                                          const torch::Tensor& neighbors, int64_t k, int64_t chunk_bytes) {
  std::vector<torch::Tensor> parts;
  const auto no_labels = torch::zeros({train.size()}, torch::kLong);
  for_each_concept_chunk(train, no_labels, test, {}, neighbors, k, concept_chunk_points(k, train.dim, chunk_bytes),
                         [&](const ConceptChunk& c) {
                           parts.push_back(mean_neighbor_cosine(c.data.train_x, c.data.test_x, c.data.neighbors, k));
                         });
  return join(parts);
}

torch::Tensor test_point_masks(const SparseRows& test) {
  return torch::zeros({test.size(), test.dim}, torch::kBool)
      .scatter_(1, test.indices.to(torch::kCPU), test.values.to(torch::kCPU).gt(0));
}

}  // namespace tttlab
