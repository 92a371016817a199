// Builds without CUDA: the fused step does not exist (fused_step_cuda.cpp has the real one).
#ifndef TTTLAB_HAVE_CUDA
#include "tttlab/ttt/fused_step.hpp"

#include <stdexcept>

namespace tttlab {

bool have_fused_step() { return false; }

void fused_ce_adam_step_(torch::Tensor&, torch::Tensor&, torch::Tensor&, torch::Tensor&, torch::Tensor&, torch::Tensor&,
                         const torch::Tensor&, const torch::Tensor&, torch::Tensor&, int64_t, const AdamHyper&) {
  throw std::logic_error("fused TTT step: this build of tttlab has no CUDA");
}

void fused_ce_adam_step_row_space_(torch::Tensor&, torch::Tensor&, torch::Tensor&, torch::Tensor&, torch::Tensor&,
                                   torch::Tensor&, torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                   torch::Tensor&, int64_t, const AdamHyper&) {
  throw std::logic_error("fused TTT step: this build of tttlab has no CUDA");
}

}  // namespace tttlab
#endif
