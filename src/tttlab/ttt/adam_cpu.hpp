#pragma once
// The fused CPU Adam update: one pass over (param, grad, exp_avg, exp_avg_sq) instead of the ~10
// tensor-wide passes of adam_update_ (adam.hpp). For a [B, C, d] batch that does not fit in cache
// this is the difference between memory-bound and compute-bound. Same arithmetic as
// torch::optim::Adam; tests compare the two.
#include <cstdint>

#include <torch/torch.h>

#include "tttlab/ttt/adam.hpp"

namespace tttlab {

// All four tensors: CPU, contiguous, same floating dtype and size. Parallel over chunks.
void fused_adam_update_cpu_(torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& exp_avg,
                            torch::Tensor& exp_avg_sq, int64_t step, const AdamHyper& h);

}  // namespace tttlab
