#pragma once
// Masked TTT in concept space (paper eq. 3): for every test point x*, fine-tune the head W [C, d1],
// b [C] together with a binary concept mask m = 1{theta > 0} on its k nearest neighbours,
//   min_{W, b, theta} (1/k) sum_{(x, y) in D_x*} CE(W (m * Phi(x)) + b, y) + lambda ||m||^2,
// with the straight-through estimator dm/dtheta := sigmoid(theta / tau) (paper footnote 4, taken as
// written), theta starting at mask_init for every unit (all concepts on), one Adam over W, b and
// theta, and predict x* with W (m * Phi(x*)) + b. The non-adaptive variant fixes m to a given mask
// (e.g. the concepts active in x* itself) and trains W, b only.
//
// Two paths, as for plain TTT (ttt/local_fit.hpp): masked_fit_reference (one point at a time,
// autograd with the straight-through trick and torch::optim::Adam) and masked_fit_batched (B points
// as one [B, C, d1] problem with the analytic gradient); tests check that they agree.
#include <cstdint>

#include <torch/torch.h>

#include "tttlab/models/linear_head.hpp"
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab {

struct MaskedFitConfig {
  LocalFitConfig fit;        // k, steps, lr, Adam settings, device, batch size (mode must be erm)
  double penalty = 0.2;      // lambda (ImageNet 0.2, MNIST 1e-3)
  double temperature = 0.1;  // tau of the straight-through gradient
  double mask_init = 1.0;    // theta at the start (> 0: every concept on)
  void validate() const;
};

struct MaskedFitResult {
  LocalFitResult fit;   // pred, logits, ce (and heads with keep_heads)
  torch::Tensor masks;  // bool [M, d1], the final mask of every test point
};

// data: concept vectors (dense [N, d1] / [M, d1]) with neighbours found in concept space.
// fixed_masks: undefined (learn the mask) or bool [M, d1] (non-adaptive: that mask, fixed).
MaskedFitResult masked_fit_reference(const LinearHead& head, const LocalFitData& data, const MaskedFitConfig& cfg,
                                     const torch::Tensor& fixed_masks = {});
MaskedFitResult masked_fit_batched(const LinearHead& head, const LocalFitData& data, const MaskedFitConfig& cfg,
                                   const torch::Tensor& fixed_masks = {});

// The non-adaptive mask: the concepts active (> 0) in each test point.
torch::Tensor test_point_masks(const torch::Tensor& test_concepts);

// Per test point (int64 [M] each), for the mask m, the test point's active set A* and the
// neighbours' active sets A_i (i = 1..k):
//   mask_size            ||m||_0 over all d1 units
//   mask_in_neighborhood |m ∩ (∪_i A_i)|, the mask's units that any neighbour uses
//   neighborhood_concepts |∪_i A_i|
//   test_concepts        |A*|
//   kept_test_concepts   |A* ∩ m|
struct MaskStatistics {
  torch::Tensor mask_size, mask_in_neighborhood, neighborhood_concepts, test_concepts, kept_test_concepts;
};
MaskStatistics mask_statistics(const torch::Tensor& masks, const LocalFitData& data, int64_t k);

}  // namespace tttlab
