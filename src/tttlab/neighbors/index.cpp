#include "tttlab/neighbors/index.hpp"

#include <algorithm>

#include "tttlab/core/device.hpp"
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

namespace {

std::unique_ptr<NeighborIndex> make_torch_index(torch::Device device) {
  if (!device.is_cuda()) return std::make_unique<TorchIndex>(device);
  // On a GPU, larger distance blocks keep the matrix products efficient: a quarter of the free
  // memory (the training points are already resident), between 256 MB and 4 GB.
  const int64_t block = std::clamp<int64_t>(free_device_memory(device) / 4, int64_t{256} << 20, int64_t{4} << 30);
  return std::make_unique<TorchIndex>(device, block);
}

}  // namespace

std::unique_ptr<NeighborIndex> make_index(const std::string& kind, torch::Device device) {
  if (kind == "torch") return make_torch_index(device);
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
    return make_torch_index(device);
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
