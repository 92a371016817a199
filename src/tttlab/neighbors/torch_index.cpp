#include "tttlab/neighbors/torch_index.hpp"

#include <algorithm>
#include <vector>

#include "tttlab/core/error.hpp"
#include "tttlab/neighbors/candidates.hpp"

namespace tttlab {

using neighbors_detail::candidate_count;
using neighbors_detail::checked_queries;
using neighbors_detail::checked_train;
using neighbors_detail::search_in_blocks;

TorchIndex::TorchIndex(torch::Device device, int64_t block_bytes) : device_(device), block_bytes_(block_bytes) {
  require_input(block_bytes >= 4, "torch index: block size {} bytes is too small", block_bytes);
}

void TorchIndex::add(const torch::Tensor& train) {
  auto x = checked_train(train, dim(), name()).to(device_);
  auto n = x.pow(2).sum(1);
  if (train_.defined()) {
    train_ = torch::cat({train_, x}, 0);
    norms_ = torch::cat({norms_, n}, 0);
  } else {
    train_ = x;
    norms_ = n;
  }
}

KnnResult TorchIndex::search(const torch::Tensor& queries, int64_t k) const {
  torch::NoGradGuard no_grad;
  const auto out_device = queries.defined() ? queries.device() : device_;
  const auto q = checked_queries(queries, k, size(), dim(), name()).to(device_);
  const int64_t m = q.size(0), n = size();
  const int64_t kc = candidate_count(k, n);

  // Block sizes: query block qb by training tile tb float32 distances, at most block_bytes_.
  const int64_t elems = std::max<int64_t>(1, block_bytes_ / 4);
  // Query blocks: 1,024 rows on the CPU; on a GPU up to 8,192 (fewer, larger matrix products).
  int64_t qb = std::max<int64_t>(1, std::min<int64_t>(m, device_.is_cuda() ? 8192 : 1024));
  const int64_t min_tile = std::min<int64_t>(n, 256);
  if (elems / qb < min_tile) qb = std::max<int64_t>(1, elems / min_tile);
  const int64_t tb = std::clamp<int64_t>(elems / qb, 1, n);

  return search_in_blocks(train_, q, k, qb, out_device, [&](const torch::Tensor& qblk) {
    const auto qn = qblk.pow(2).sum(1, /*keepdim=*/true);
    return neighbors_detail::smallest_in_tiles(n, tb, kc, [&](int64_t ts, int64_t te) {
      // ||q||^2 + ||x||^2 - 2 q.x, one block of memory.
      auto dist = qn + norms_.slice(0, ts, te).unsqueeze(0);
      dist.addmm_(qblk, train_.slice(0, ts, te).t(), /*beta=*/1, /*alpha=*/-2);
      return dist.clamp_min_(0);
    });
  });
}

}  // namespace tttlab
