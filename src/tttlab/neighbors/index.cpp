#include "tttlab/neighbors/index.hpp"

#include "tttlab/core/error.hpp"
#include "tttlab/neighbors/faiss_index.hpp"
#include "tttlab/neighbors/torch_index.hpp"

namespace tttlab {

bool have_faiss() {
#ifdef TTTLAB_HAVE_FAISS
  return true;
#else
  return false;
#endif
}

std::unique_ptr<NeighborIndex> make_index(const std::string& kind, torch::Device device) {
  if (kind == "torch") return std::make_unique<TorchIndex>(device);
  if (kind == "faiss") {
    require_input(have_faiss(),
                  "neighbour index 'faiss' is not available: tttlab was built without FAISS (use 'torch' or 'auto')");
    require_input(device.is_cpu(), "neighbour index 'faiss' runs on the CPU only, not on {}", device.str());
#ifdef TTTLAB_HAVE_FAISS
    return make_faiss_index();
#endif
  }
  if (kind == "auto") {
#ifdef TTTLAB_HAVE_FAISS
    if (device.is_cpu()) return make_faiss_index();
#endif
    return std::make_unique<TorchIndex>(device);
  }
  throw_input_error("unknown neighbour index '{}' (expected auto, faiss or torch)", kind);
}

KnnResult knn_search(const torch::Tensor& train, const torch::Tensor& queries, int64_t k, const std::string& kind,
                     torch::Device device) {
  auto index = make_index(kind, device);
  index->add(train);
  return index->search(queries, k);
}

}  // namespace tttlab
