#pragma once
// Exact k-nearest-neighbour search by squared L2, behind one interface with several indexes
// (FAISS-style): "torch" (LibTorch, any device: tiles a matrix-product distance) and "faiss"
// (faiss::IndexFlatL2, CPU, when built with FAISS).
//
// Contract shared by every index:
//   * exact k nearest training points of each query by squared L2 distance;
//   * each row sorted by (distance, training index) ascending: ties go to the smaller index;
//   * ties at the k-th boundary are resolved the same way: the index searches k + m candidates
//     (m = min(16, N - k)), recomputes their distances exactly (float64 difference, rounded to the
//     float32 that is returned) and keeps the first k in (distance, index) order. The one case not
//     guaranteed: more than m training points tied with the k-th distance (then which of the tied
//     points are kept depends on the search, though the row is still correctly sorted);
//   * distances are float32 squared L2, indices int64 into the training set (order of add()).
// Bad input (k < 1, k > N, width mismatch, non-2-D or non-finite data, empty training set,
// search before add) throws tttlab::InputError.
#include <cstdint>
#include <memory>
#include <string>

#include <torch/torch.h>

namespace tttlab {

struct KnnResult {
  torch::Tensor indices;    // int64 [M, k], nearest first
  torch::Tensor distances;  // float32 [M, k], squared L2, ascending
};

class NeighborIndex {
 public:
  virtual ~NeighborIndex() = default;
  // Adds training points (float [N, d]; converted to float32). May be called more than once:
  // later points get the following indices.
  virtual void add(const torch::Tensor& train) = 0;
  // The k nearest training points of every query (float [M, d]). Results live on the queries' device.
  virtual KnnResult search(const torch::Tensor& queries, int64_t k) const = 0;
  virtual std::string name() const = 0;
  virtual int64_t size() const = 0;  // training points added so far
  virtual int64_t dim() const = 0;   // 0 before the first add()
};

// True when tttlab was built with FAISS.
bool have_faiss();

// kind: "auto" (faiss when built with it and device is the CPU, else torch), "faiss", "torch".
std::unique_ptr<NeighborIndex> make_index(const std::string& kind, torch::Device device = torch::kCPU);

// make_index(kind, device), add(train), search(queries, k).
KnnResult knn_search(const torch::Tensor& train, const torch::Tensor& queries, int64_t k,
                     const std::string& kind = "auto", torch::Device device = torch::kCPU);

}  // namespace tttlab
