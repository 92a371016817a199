#pragma once
// Exact k-nearest-neighbour search by squared L2 over sparse rows (data/sparse_rows.hpp), with the
// contract of every NeighborIndex (index.hpp): rows sorted by (distance, index), ties at the k-th
// boundary resolved by index through an exact float64 re-ranking of k + 16 candidates (computed from
// each candidate's s stored values: |q|^2 + sum_j ((q_j - x_j)^2 - q_j^2)), float32 distances, int64
// indices. Inner products come from embedding_bag with a dense block of queries as the table: each
// training row costs s gathers of a query-block row instead of d multiply-adds, and memory holds one
// block of queries (dense) by one tile of training rows. Runs on the CPU or a GPU.
#include <cstdint>

#include "tttlab/data/sparse_rows.hpp"
#include "tttlab/neighbors/index.hpp"

namespace tttlab {

KnnResult knn_search_sparse(const SparseRows& train, const SparseRows& queries, int64_t k,
                            torch::Device device = torch::kCPU, int64_t block_bytes = int64_t{256} << 20);

}  // namespace tttlab
