#include "tttlab/baselines/kmeans.hpp"

#include <random>
#include <vector>

#include "tttlab/core/error.hpp"
#include "tttlab/eval/bootstrap.hpp"
#include "tttlab/neighbors/index.hpp"

namespace tttlab {

#ifdef TTTLAB_HAVE_FAISS
KMeansResult kmeans_faiss(const torch::Tensor& x, int64_t k, int iterations, uint64_t seed);  // kmeans_faiss.cpp
#endif

namespace {

torch::Tensor checked(const torch::Tensor& x, int64_t k, int iterations) {
  require_input(x.defined() && x.dim() == 2 && x.size(0) > 0 && x.size(1) > 0,
                "k-means: points must be [n, d] with n, d > 0");
  require_input(k >= 1 && k <= x.size(0), "k-means: {} clusters for {} points (expected 1..{})", k, x.size(0),
                x.size(0));
  require_input(iterations >= 1, "k-means: iterations={} (expected >= 1)", iterations);
  auto f = x.to(torch::kCPU, torch::kFloat).contiguous();
  require_input(torch::isfinite(f).all().item<bool>(), "k-means: points contain NaN or infinite values");
  return f;
}

torch::Tensor nearest_centroid(const torch::Tensor& x, const torch::Tensor& c) {
  return knn_search(c, x, 1, "torch").indices.select(1, 0);
}

}  // namespace

double kmeans_inertia(const torch::Tensor& x, const torch::Tensor& centroids) {
  const auto r = knn_search(centroids, x, 1, "torch");
  return r.distances.to(torch::kDouble).sum().item<double>();
}

KMeansResult kmeans_lloyd(const torch::Tensor& x_in, int64_t k, int iterations, uint64_t seed) {
  const auto x = checked(x_in, k, iterations);
  torch::NoGradGuard no_grad;
  // Farthest-point start: a seeded random first point, then each next centroid the point farthest
  // from those chosen (deterministic, and never two starts in one well-separated cluster).
  std::mt19937_64 gen(seed);
  std::vector<int64_t> chosen{static_cast<int64_t>(uniform_index(static_cast<uint64_t>(x.size(0)), gen))};
  auto min_dist = (x - x[chosen[0]]).pow(2).sum(1);
  for (int64_t c = 1; c < k; ++c) {
    chosen.push_back(min_dist.argmax().item<int64_t>());
    min_dist = torch::minimum(min_dist, (x - x[chosen.back()]).pow(2).sum(1));
  }
  auto centroids = x.index_select(0, torch::tensor(chosen, torch::kLong)).clone();
  for (int it = 0; it < iterations; ++it) {
    const auto assign = nearest_centroid(x, centroids);
    auto sums = torch::zeros_like(centroids).index_add_(0, assign, x);
    auto counts = torch::zeros({k}, torch::kFloat).index_add_(0, assign, torch::ones({x.size(0)}, torch::kFloat));
    const auto nonempty = counts.gt(0);
    // An empty cluster keeps its centroid.
    centroids = torch::where(nonempty.unsqueeze(1), sums / counts.clamp_min(1).unsqueeze(1), centroids);
  }
  return {centroids, kmeans_inertia(x, centroids)};
}

KMeansResult kmeans(const torch::Tensor& x, int64_t k, int iterations, uint64_t seed, const std::string& backend) {
  require_input(backend == "auto" || backend == "faiss" || backend == "lloyd",
                "k-means backend '{}' (expected auto, faiss or lloyd)", backend);
#ifdef TTTLAB_HAVE_FAISS
  if (backend != "lloyd") return kmeans_faiss(checked(x, k, iterations), k, iterations, seed);
#else
  require_input(backend != "faiss", "k-means backend 'faiss': this build has no FAISS");
#endif
  return kmeans_lloyd(x, k, iterations, seed);
}

}  // namespace tttlab
