#pragma once
// Checks shared by both local-fit paths: the data must fit the head and the config.
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab {

void check_local_fit_inputs(const LinearHead& head, const LocalFitData& data, const LocalFitConfig& cfg);

// Neighbour features [M, k, d] and labels [M, k] of the test points rows [begin, end).
struct NeighborBatch {
  torch::Tensor x;  // [B, k, d]
  torch::Tensor y;  // [B, k]
};
NeighborBatch gather_neighbors(const LocalFitData& data, int64_t k, int64_t begin, int64_t end);

}  // namespace tttlab
