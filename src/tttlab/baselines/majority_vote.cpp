#include "tttlab/baselines/majority_vote.hpp"

#include "tttlab/core/error.hpp"
#include "tttlab/core/shape.hpp"

namespace tttlab {

MajorityVote majority_vote(const torch::Tensor& neighbor_labels, int64_t num_classes, int64_t k_used) {
  torch::NoGradGuard no_grad;
  require_input(neighbor_labels.defined(), "majority vote: neighbour labels are undefined");
  require_input(neighbor_labels.dim() == 2, "majority vote: neighbour labels must be a 2-D [M, k] tensor, got shape {}",
                shape_string(neighbor_labels.sizes()));
  require_input(!neighbor_labels.is_floating_point() && !neighbor_labels.is_complex() &&
                    neighbor_labels.scalar_type() != torch::kBool,
                "majority vote: neighbour labels must be integers, got {}",
                c10::toString(neighbor_labels.scalar_type()));
  const int64_t m = neighbor_labels.size(0), k = neighbor_labels.size(1);
  require_input(k >= 1, "majority vote: no neighbours (k=0)");
  require_input(num_classes >= 1, "majority vote: num_classes={} (expected >= 1)", num_classes);
  require_input(k_used == -1 || (k_used >= 1 && k_used <= k),
                "majority vote: k_used={} but {} neighbours were given (expected 1..{}, or -1 for all)", k_used, k, k);
  const int64_t ku = k_used == -1 ? k : k_used;
  const auto labels = neighbor_labels.slice(1, 0, ku).to(torch::kLong).contiguous();
  if (m > 0) {
    const auto lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
    require_input(lo >= 0 && hi < num_classes,
                  "majority vote: neighbour labels must be in [0, {}), got values in [{}, {}]", num_classes, lo, hi);
  }
  // counts[i, c] = number of the first ku neighbours of point i with label c.
  auto counts = torch::zeros({m, num_classes}, labels.options());
  counts.scatter_add_(1, labels, torch::ones_like(labels));
  // Among the positions whose label reaches the maximum count, the first one wins: give position j
  // the score ku - j if its label is a maximum, else 0, and take the (unique) largest score.
  const auto max_count = std::get<0>(counts.max(1, /*keepdim=*/true));
  const auto is_max = counts.gather(1, labels).eq(max_count);
  const auto rank = torch::arange(ku, 0, -1, labels.options()).unsqueeze(0);
  const auto first = (is_max.to(torch::kLong) * rank).argmax(1, /*keepdim=*/true);
  MajorityVote out;
  out.pred = labels.gather(1, first).squeeze(1);
  out.votes = counts.to(torch::kFloat) / static_cast<float>(ku);
  return out;
}

}  // namespace tttlab
