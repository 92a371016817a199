#include "tttlab/baselines/mixture_of_experts.hpp"

#include "tttlab/core/error.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/baselines/kmeans.hpp"
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab {

const std::vector<MoeSetting>& paper_moe_settings() {
  static const std::vector<MoeSetting> table = {
      {1, 6e-4, 2, 60},      {3, 2e-4, 1, 50},      {10, 6e-4, 2, 30},     {30, 1e-3, 1, 60},
      {100, 8e-4, 2, 30},    {300, 4e-4, 3, 40},    {1000, 6e-4, 10, 30},  {3000, 4e-4, 30, 20},
      {10000, 6e-4, 20, 30}, {20000, 4e-4, 50, 30}, {50000, 4e-4, 40, 20},
  };
  return table;
}

const MoeSetting& paper_moe_setting(int64_t experts) {
  for (const auto& s : paper_moe_settings()) {
    if (s.experts == experts) return s;
  }
  throw_input_error("--experts: {} is not in Table 6 (1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 20000, 50000)",
                    experts);
}

MoeResult mixture_of_experts(const LinearHead& head, const Split& train, const Split& test, const MoeSetting& s,
                             uint64_t seed, const std::string& kmeans_backend, int kmeans_iterations) {
  require_input(s.experts >= 1 && s.experts <= train.size(), "mixture of experts: {} experts for {} training points",
                s.experts, train.size());
  require_input(s.k >= 1 && s.k <= train.size(), "mixture of experts: k={} for {} training points", s.k, train.size());
  MoeResult out;
  const KMeansResult km = kmeans(train.x, s.experts, kmeans_iterations, seed, kmeans_backend);
  out.centroids = km.centroids;
  out.kmeans_inertia = km.inertia;
  // Experts: the TTT engine with the centroids in place of test points.
  LocalFitConfig fit;
  fit.k = s.k;
  fit.steps = s.steps;
  fit.lr = s.lr;
  fit.keep_heads = true;
  const auto centroid_neighbors = knn_search(train.x, out.centroids, s.k).indices;
  const LocalFitResult experts =
      local_fit_batched(head, {train.x, train.y, out.centroids, torch::Tensor(), centroid_neighbors}, fit);
  // Routing: the nearest centroid.
  out.route = knn_search(out.centroids, test.x, 1).indices.select(1, 0).contiguous();
  torch::NoGradGuard no_grad;
  const int64_t m = test.x.size(0);
  auto logits = torch::empty({m, head.num_classes()}, torch::kFloat);
  constexpr int64_t chunk = 1024;
  for (int64_t a = 0; a < m; a += chunk) {
    const int64_t b = std::min(m, a + chunk);
    const auto r = out.route.slice(0, a, b);
    const auto w = experts.weights.index_select(0, r);  // [B, C, d]
    const auto bias = experts.biases.index_select(0, r);
    logits.slice(0, a, b).copy_(
        torch::baddbmm(bias.unsqueeze(1), test.x.slice(0, a, b).unsqueeze(1), w.transpose(1, 2)).squeeze(1));
  }
  out.pred = logits.argmax(1);
  if (test.y.defined()) out.ce = per_point_cross_entropy(logits, test.y);
  return out;
}

}  // namespace tttlab
