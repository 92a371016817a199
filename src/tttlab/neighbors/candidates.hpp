#pragma once
// Pieces every NeighborIndex shares: input checks and the tie-aware final selection.
#include <cstdint>
#include <functional>
#include <string>

#include <torch/torch.h>

#include "tttlab/neighbors/index.hpp"

namespace tttlab::neighbors_detail {

// Checks training data for add(): 2-D, non-empty, finite, and width `dim` when dim > 0.
// Returns it as contiguous float32.
torch::Tensor checked_train(const torch::Tensor& train, int64_t dim, const std::string& index_name);

// Checks queries and k for search() against an index of `size` points of width `dim`.
// Returns the queries as contiguous float32.
torch::Tensor checked_queries(const torch::Tensor& queries, int64_t k, int64_t size, int64_t dim,
                              const std::string& index_name);

// How many candidates to search so ties at the k-th boundary resolve by index: k + min(16, N - k).
int64_t candidate_count(int64_t k, int64_t n);

// From candidate training indices (int64 [B, K], distinct within a row, any order) of the queries
// (float32 [B, d]) into `train` (float32 [N, d], same device): recompute the squared distances
// exactly (float64 difference, rounded to float32), sort each row by (distance, index) and keep k.
KnnResult select_k(const torch::Tensor& train, const torch::Tensor& queries, const torch::Tensor& candidates,
                   int64_t k);
// The tie rule every index shares: each row of candidates (int64 [B, K]) and their exact float32
// distances sorted by (distance, index), the first k kept.
KnnResult keep_k_by_distance_then_index(const torch::Tensor& candidates, const torch::Tensor& distances, int64_t k);

// The kc smallest entries of every row of a [B, N] distance matrix that is computed one training
// tile at a time (tile_distances(begin, end) returns [B, end - begin]), so that memory holds one
// tile: int64 [B, min(kc, N)] training indices, in no particular order.
using TileDistanceFn = std::function<torch::Tensor(int64_t begin, int64_t end)>;
torch::Tensor smallest_in_tiles(int64_t n, int64_t tile, int64_t kc, const TileDistanceFn& tile_distances);

// The search loop every index shares: for each block of `block` queries, `candidates(query_block)`
// returns int64 [rows, K] candidate training indices (K >= k), which select_k re-ranks;
// shows the progress bar and returns all rows on `out_device` (empty [0, k] results for no queries).
using CandidateFn = std::function<torch::Tensor(const torch::Tensor& query_block)>;
KnnResult search_in_blocks(const torch::Tensor& train, const torch::Tensor& queries, int64_t k, int64_t block,
                           torch::Device out_device, const CandidateFn& candidates);

}  // namespace tttlab::neighbors_detail
