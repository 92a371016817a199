#pragma once
// The fused TTT step (CUDA): one Adam step of B heads on their neighbours' mean cross-entropy,
//   logits = x W^T + b        one batched matrix product (cuBLAS, float32; TF32 as LibTorch is set)
//   delta  = (softmax - onehot(labels)) / r      one kernel, in place on the logits
//   W, b, moments <- Adam(delta^T x, sum delta)  one kernel: the gradient stays in registers
// so each step reads and writes the heads and their two moments once. The row-space variant keeps
// W's first moment as coefficients on the rows of x (see fused_step_kernels.hpp) and moves 16 bytes
// per element of W and step instead of 24. The LibTorch batched path
// (ce_gradient + adam_update_ in local_fit_batched.cpp) is its reference; tests/gpu checks them.
#include <cstdint>

#include <torch/torch.h>

#include "tttlab/ttt/adam.hpp"

namespace tttlab {

// True when this build has the CUDA kernels (LibTorch with CUDA).
bool have_fused_step();

// w [B, C, d], b [B, C] and the moments: contiguous float32 CUDA tensors, updated in place.
// x [B, r, d] with contiguous rows (a slice of the neighbour rows is fine), labels int64 [B, r]
// (last stride 1); logits: a float32 [B, r, C] buffer the step may overwrite. step counts from 1.
void fused_ce_adam_step_(torch::Tensor& w, torch::Tensor& b, torch::Tensor& w_m, torch::Tensor& w_v, torch::Tensor& b_m,
                         torch::Tensor& b_v, const torch::Tensor& x, const torch::Tensor& labels, torch::Tensor& logits,
                         int64_t step, const AdamHyper& h);

// The same step with W's first moment m_coef^T x instead of a [B, C, d] tensor: m_coef is float32
// [B, r, C], zero before the first step; every step must see the same x, and h.weight_decay must be 0.
// m_coef_next is a second [B, r, C] buffer the step writes the new coefficients into; on return the
// two are swapped (m_coef holds the new ones), so a loop just calls it again.
void fused_ce_adam_step_row_space_(torch::Tensor& w, torch::Tensor& b, torch::Tensor& m_coef,
                                   torch::Tensor& m_coef_next, torch::Tensor& w_v, torch::Tensor& b_m,
                                   torch::Tensor& b_v, const torch::Tensor& x, const torch::Tensor& labels,
                                   torch::Tensor& logits, int64_t step, const AdamHyper& h);

}  // namespace tttlab
