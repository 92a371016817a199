#pragma once
// The fused TTT step on CUDA, as plain launchers over raw device pointers (the kernels in
// fused_step_kernels.cu see only the CUDA runtime, not LibTorch). For B test points at once:
//
//   softmax_delta:  logits [B, r, C] -> (softmax(logits) - onehot(label)) / r, in place;
//   grad_adam:      dW = delta^T x and db = sum_rows delta, plus weight decay, then Adam on
//                   W [B, C, d], b [B, C] and their moments, in place.
//
// Row space (m_coef given): when every step's gradient is delta^T x with the same x and no weight
// decay, W's first moment is m_coef^T x with m_coef [B, r, C] (zero at the start), which
// softmax_delta advances (m_coef_t from m_coef_{t-1} and delta_t, into a second buffer); grad_adam
// then computes m_{t-1} = m_coef_{t-1}^T x instead of reading it, and W's first moment [B, C, d] is
// neither read nor written (w_m may be null). 16 bytes per element of W move per step instead of 24.
//
// grad_adam never writes the gradient to memory: each thread computes a 4 x 4 tile of dW in
// registers from delta and x staged in shared memory, and reads and writes W, m and v once per
// step. The arithmetic of the update follows adam_update_ (adam.hpp) operation by operation, with
// approximate (2 ulp) square root and division.
#include <cstdint>

#include <cuda_runtime_api.h>

namespace tttlab::cuda {

struct AdamStepScalars {
  float lr_over_bc1;   // lr / (1 - beta1^t)
  float inv_sqrt_bc2;  // 1 / sqrt(1 - beta2^t)
  float beta1, beta2, eps, weight_decay;
  float one_minus_beta1, one_minus_beta2;  // rounded from double, as torch's alpha = 1 - beta
};

// rows: B * r rows of C logits; labels[row] with row = b * r + i read at labels + b * label_bstride + i.
// m_coef_in and m_coef_out (optional, both [B, r, C], distinct): also
// m_coef_out = m_coef_in * beta1 + delta * one_minus_beta1.
void launch_softmax_delta(float* logits, const int64_t* labels, int64_t batch, int64_t rows_per_point,
                          int64_t num_classes, int64_t label_bstride, cudaStream_t stream,
                          const float* m_coef_in = nullptr, float* m_coef_out = nullptr, float beta1 = 0.f,
                          float one_minus_beta1 = 0.f);

// delta [B, r, C] contiguous; x rows at x + b * x_bstride + i * d (rows contiguous, width d).
// m_coef: null, or the row-space first moment [B, r, C] of the previous step (m_{t-1} = m_coef^T x;
// then s.weight_decay must be 0 and w_m is not used).
void launch_grad_adam(const float* delta, const float* m_coef, const float* x, int64_t x_bstride, float* w, float* w_m,
                      float* w_v, float* b, float* b_m, float* b_v, int64_t batch, int64_t rows_per_point,
                      int64_t num_classes, int64_t dim, const AdamStepScalars& s, cudaStream_t stream);

}  // namespace tttlab::cuda
