// Neighbour search in an SAE's concept space (Phi-hat, docs/sae.md): the exact sparse search
// (knn_search_sparse: embedding_bag over the s stored values of each row) against the dense
// reference (the same rows made dense, then knn_search with the "torch" or "faiss" index), in the
// same run, with the speed-up and whether the neighbour lists agree.
//   bench_sparse_knn [--device cpu|cuda] [--train N] [--queries M] [--dim D] [--active S] [--k K]
// Defaults: 50,000 training rows and 1,000 queries of width 4,096 with 16 active values (an SAE of
// ImageNet's d1 = 8 x 512 and k = 16), k = 50.
#include <chrono>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>

#include "tttlab/core/device.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/data/sparse_rows.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/neighbors/sparse_search.hpp"

using namespace tttlab;

namespace {

SparseRows random_codes(int64_t n, int64_t d, int64_t s) {
  return {std::get<1>(torch::rand({n, d}).topk(s, 1)), torch::rand({n, s}), d};
}

template <typename F>
double seconds(F&& f, torch::Device device) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  if (device.is_cuda()) (void)torch::ones({1}, torch::TensorOptions().device(device)).sum().item<float>();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "auto";
  int64_t n = 50000, m = 1000, d = 4096, s = 16, k = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--device")
      device_name = argv[i + 1];
    else if (a == "--train")
      n = std::atoll(argv[i + 1]);
    else if (a == "--queries")
      m = std::atoll(argv[i + 1]);
    else if (a == "--dim")
      d = std::atoll(argv[i + 1]);
    else if (a == "--active")
      s = std::atoll(argv[i + 1]);
    else if (a == "--k")
      k = std::atoll(argv[i + 1]);
    else {
      fmt::print(stderr, "unknown option {}\n", a);
      return 2;
    }
  }
  const torch::Device device = resolve_device(device_name);
  set_progress_enabled(false);
  torch::manual_seed(0);
  const SparseRows train = random_codes(n, d, s), queries = random_codes(m, d, s);
  KnnResult sparse, dense;
  knn_search_sparse(train, queries.select(torch::arange(std::min<int64_t>(m, 8))), k, device);  // warm-up
  const double sparse_s = seconds([&] { sparse = knn_search_sparse(train, queries, k, device); }, device);
  const auto train_dense = dense_rows(train, 0, n), query_dense = dense_rows(queries, 0, m);
  const std::string index = device.is_cuda() || !have_faiss() ? "torch" : "faiss";
  const double dense_s = seconds([&] { dense = knn_search(train_dense, query_dense, k, index, device); }, device);
  const double agree =
      sparse.indices.eq(dense.indices.to(sparse.indices.device())).all(1).to(torch::kDouble).mean().item<double>();
  fmt::print("{}: {} training rows, {} queries, width {}, {} active, k={}\n", describe_device(device), n, m, d, s, k);
  fmt::print("  dense reference ({} index on the rows made dense)  {:8.3f} s\n", index, dense_s);
  fmt::print("  sparse search (embedding_bag)                        {:8.3f} s   {:.1f}x\n", sparse_s,
             dense_s / sparse_s);
  fmt::print("  neighbour lists equal on {:.2f}% of queries; dense rows take {:.0f} MB, sparse {:.0f} MB\n",
             100 * agree, 4.0 * static_cast<double>(n * d) / 1e6, 12.0 * static_cast<double>(n * s) / 1e6);
  return 0;
}
