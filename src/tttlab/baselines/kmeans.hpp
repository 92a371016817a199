#pragma once
// k-means for the mixture of experts (E.5): FAISS's k-means when tttlab is built with FAISS, and
// a plain Lloyd's algorithm in LibTorch as the reference (and the path on machines without FAISS).
// Lloyd starts from farthest points (the first drawn with the seed); FAISS from its own seeded draw;
// both run a fixed number of iterations; they need not
// find the same centroids, but on well-separated data both find the same clusters (tested).
#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace tttlab {

struct KMeansResult {
  torch::Tensor centroids;  // float32 [k, d]
  double inertia = 0;       // sum of squared distances of the points to their nearest centroid
};

// x: float [n, d], finite; 1 <= k <= n. InputError otherwise.
KMeansResult kmeans_lloyd(const torch::Tensor& x, int64_t k, int iterations, uint64_t seed);
// backend: "auto" (faiss when built with it, else lloyd), "faiss", "lloyd".
KMeansResult kmeans(const torch::Tensor& x, int64_t k, int iterations, uint64_t seed,
                    const std::string& backend = "auto");

// Sum over the points of the squared distance to the nearest centroid.
double kmeans_inertia(const torch::Tensor& x, const torch::Tensor& centroids);

}  // namespace tttlab
