#pragma once
// Mixture of experts (E.5, after Bertolissi et al. 2025): k-means centroids of the training
// features; one expert per centroid, the global head fine-tuned on the centroid's nearest training
// points (Table 6) -- the TTT engine with the centroids as the "test points"; each test point is
// routed to its nearest centroid and predicted by that expert.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tttlab/data/dataset.hpp"
#include "tttlab/models/linear_head.hpp"

namespace tttlab {

struct MoeSetting {
  int64_t experts;  // k-means clusters
  double lr;        // Adam, full batch over the neighbours
  int64_t steps;    // Table 6's "epochs" (one full-batch step each)
  int64_t k;        // nearest training points of each centroid
};

const std::vector<MoeSetting>& paper_moe_settings();   // Table 6 (1 ... 50,000 experts)
const MoeSetting& paper_moe_setting(int64_t experts);  // InputError if not in Table 6

struct MoeResult {
  torch::Tensor pred;       // int64 [M]
  torch::Tensor ce;         // double [M] (when test labels are given)
  torch::Tensor route;      // int64 [M]: the expert of each test point
  torch::Tensor centroids;  // float [E, d]
  double kmeans_inertia = 0;
};

MoeResult mixture_of_experts(const LinearHead& head, const Split& train, const Split& test, const MoeSetting& setting,
                             uint64_t seed, const std::string& kmeans_backend = "auto", int kmeans_iterations = 25);

}  // namespace tttlab
