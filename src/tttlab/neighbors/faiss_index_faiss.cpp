// faiss::IndexFlatL2 behind NeighborIndex (built only with FAISS).
#include <algorithm>
#include <vector>

#include <faiss/IndexFlat.h>

#include "tttlab/core/error.hpp"
#include "tttlab/neighbors/candidates.hpp"
#include "tttlab/neighbors/faiss_index.hpp"

namespace tttlab {

namespace {

// FAISS 1.7 calls its id type faiss::Index::idx_t, newer FAISS faiss::idx_t: take it from the member.
using faiss_idx_t = decltype(faiss::Index::ntotal);
static_assert(sizeof(faiss_idx_t) == sizeof(int64_t), "FAISS ids must be 64-bit");

using neighbors_detail::candidate_count;
using neighbors_detail::checked_queries;
using neighbors_detail::checked_train;
using neighbors_detail::search_in_blocks;

class FaissFlatIndex final : public NeighborIndex {
 public:
  explicit FaissFlatIndex(int64_t block_queries) : block_queries_(std::max<int64_t>(1, block_queries)) {}

  void add(const torch::Tensor& train) override {
    const auto x = checked_train(train, dim(), name());
    if (!index_) index_ = std::make_unique<faiss::IndexFlatL2>(static_cast<faiss_idx_t>(x.size(1)));
    index_->add(static_cast<faiss_idx_t>(x.size(0)), x.data_ptr<float>());
  }

  KnnResult search(const torch::Tensor& queries, int64_t k) const override {
    torch::NoGradGuard no_grad;
    const auto out_device = queries.defined() ? queries.device() : torch::Device(torch::kCPU);
    const auto q = checked_queries(queries, k, size(), dim(), name()).cpu().contiguous();
    const int64_t n = size(), d = dim();
    const int64_t kc = candidate_count(k, n);
    // The stored vectors, viewed (not copied) for the exact re-ranking of candidates.
    const auto train = torch::from_blob(const_cast<float*>(index_->get_xb()), {n, d}, torch::kFloat);
    return search_in_blocks(train, q, k, block_queries_, out_device, [&](const torch::Tensor& qblk) {
      auto labels = torch::empty({qblk.size(0), kc}, torch::kLong);
      auto dist = torch::empty({qblk.size(0), kc}, torch::kFloat);
      index_->search(static_cast<faiss_idx_t>(qblk.size(0)), qblk.data_ptr<float>(), static_cast<faiss_idx_t>(kc),
                     dist.data_ptr<float>(), reinterpret_cast<faiss_idx_t*>(labels.data_ptr<int64_t>()));
      TORCH_CHECK(labels.min().item<int64_t>() >= 0, "FAISS returned fewer than ", kc, " neighbours");
      return labels;
    });
  }

  std::string name() const override { return "faiss"; }
  int64_t size() const override { return index_ ? static_cast<int64_t>(index_->ntotal) : 0; }
  int64_t dim() const override { return index_ ? static_cast<int64_t>(index_->d) : 0; }

 private:
  int64_t block_queries_;
  std::unique_ptr<faiss::IndexFlatL2> index_;
};

}  // namespace

std::unique_ptr<NeighborIndex> make_faiss_index(int64_t block_queries) {
  return std::make_unique<FaissFlatIndex>(block_queries);
}

}  // namespace tttlab
