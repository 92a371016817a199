#pragma once
// Exact neighbour search with LibTorch on any device (CPU now, CUDA later).
// Tiles over queries and training points so one distance block stays under a memory budget,
// computes ||q||^2 - 2 q.x + ||x||^2 with a matrix product in float32 (clamped at 0), keeps a
// running top-(k+m) per query across training tiles, then the tie-aware selection of index.hpp.
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "tttlab/neighbors/index.hpp"

namespace tttlab {

class TorchIndex final : public NeighborIndex {
 public:
  // block_bytes: the most memory one float32 query-by-training distance block may take.
  explicit TorchIndex(torch::Device device = torch::kCPU, int64_t block_bytes = int64_t{256} << 20);

  void add(const torch::Tensor& train) override;
  KnnResult search(const torch::Tensor& queries, int64_t k) const override;
  std::string name() const override { return "torch"; }
  int64_t size() const override { return train_.defined() ? train_.size(0) : 0; }
  int64_t dim() const override { return train_.defined() ? train_.size(1) : 0; }

  torch::Device device() const { return device_; }
  int64_t block_bytes() const { return block_bytes_; }

 private:
  torch::Device device_;
  int64_t block_bytes_;
  torch::Tensor train_;  // float32 [N, d] on device_
  torch::Tensor norms_;  // float32 [N], ||x||^2
};

}  // namespace tttlab
