#pragma once
// Concept-space work with Phi-hat kept sparse (data/sparse_rows.hpp). Every per-test-point step
// (TTT, masked TTT, the masks' statistics, O1's cosines) reads only the test point and its k
// neighbours, so the test points go in chunks, and each chunk makes dense only the rows it touches:
// its test points and the distinct training rows among their neighbours, with the neighbours
// renumbered into those rows. The dense functions then run on the chunk unchanged, and memory
// follows the chunk instead of N x d1 (21 GB for ImageNet's Phi-hat).
#include <cstdint>
#include <functional>

#include "tttlab/data/sparse_rows.hpp"
#include "tttlab/sae/masked_ttt.hpp"
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab {

struct ConceptChunk {
  int64_t begin = 0, end = 0;  // the chunk's test rows
  LocalFitData data;           // dense rows: train_x = the neighbours' distinct rows, neighbors into them
};

// Test points per chunk so that its dense rows (at most k + 1 per point, d wide, float32) take at
// most max_bytes (at least one point).
int64_t concept_chunk_points(int64_t k, int64_t dim, int64_t max_bytes);

// Calls fn for each chunk of `points` test points, in order, with the chunk's dense rows made on
// `device` (where the step that uses them computes: a GPU receives the sparse rows once, not dense
// chunks). neighbors: int64 [M, >= k] into train; test_y may be undefined.
void for_each_concept_chunk(const SparseRows& train, const torch::Tensor& train_y, const SparseRows& test,
                            const torch::Tensor& test_y, const torch::Tensor& neighbors, int64_t k, int64_t points,
                            const std::function<void(const ConceptChunk&)>& fn, torch::Device device = torch::kCPU);

// local_fit_batched and masked_fit_batched over the chunks, results joined in test order (the same
// numbers as on dense rows; heads are not kept). fixed_masks: bool [M, d] or undefined.
LocalFitResult local_fit_sparse(const LinearHead& head, const SparseRows& train, const torch::Tensor& train_y,
                                const SparseRows& test, const torch::Tensor& test_y, const torch::Tensor& neighbors,
                                const LocalFitConfig& cfg, int64_t chunk_bytes);
MaskedFitResult masked_fit_sparse(const LinearHead& head, const SparseRows& train, const torch::Tensor& train_y,
                                  const SparseRows& test, const torch::Tensor& test_y, const torch::Tensor& neighbors,
                                  const MaskedFitConfig& cfg, int64_t chunk_bytes,
                                  const torch::Tensor& fixed_masks = {});

// mask_statistics and mean_neighbor_cosine (O1) over the chunks.
MaskStatistics mask_statistics_sparse(const torch::Tensor& masks, const SparseRows& train, const SparseRows& test,
                                      const torch::Tensor& neighbors, int64_t k, int64_t chunk_bytes);
torch::Tensor mean_neighbor_cosine_sparse(const SparseRows& train, const SparseRows& test,
                                          const torch::Tensor& neighbors, int64_t k, int64_t chunk_bytes);

// The non-adaptive mask from sparse test rows: bool [M, d], the columns with a value > 0.
torch::Tensor test_point_masks(const SparseRows& test);

}  // namespace tttlab
