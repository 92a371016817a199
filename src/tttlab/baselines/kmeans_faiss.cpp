// FAISS's k-means (built only with FAISS): the best of 5 seeded random starts.
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>

#include "tttlab/baselines/kmeans.hpp"

namespace tttlab {

KMeansResult kmeans_faiss(const torch::Tensor& x, int64_t k, int iterations, uint64_t seed) {
  const int64_t n = x.size(0), d = x.size(1);
  faiss::ClusteringParameters cp;
  cp.niter = iterations;
  cp.seed = static_cast<int>(seed & 0x7fffffff);
  cp.max_points_per_centroid = 1 << 30;  // use every point, no subsampling
  cp.min_points_per_centroid = 1;        // no warnings for few points per cluster
  cp.nredo = 5;                          // random starts can put two centroids in one cluster: keep the best of 5
  faiss::Clustering clus(static_cast<int>(d), static_cast<size_t>(k), cp);
  faiss::IndexFlatL2 index(d);
  clus.train(n, x.data_ptr<float>(), index);
  auto centroids = torch::from_blob(clus.centroids.data(), {k, d}, torch::kFloat).clone();
  return {centroids, kmeans_inertia(x, centroids)};
}

}  // namespace tttlab
