// The fused TTT step on CUDA: checks the tensors, then one cuBLAS product and two kernels.
#include <cmath>
#include <utility>

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include "tttlab/ttt/fused_step.hpp"
#include "tttlab/ttt/fused_step_kernels.hpp"

namespace tttlab {

namespace {

void check_state(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(t.is_cuda() && t.scalar_type() == torch::kFloat && t.is_contiguous(), "fused TTT step: ", name,
              " must be a contiguous float32 CUDA tensor");
}

void check_step_inputs(const torch::Tensor& w, const torch::Tensor& x, const torch::Tensor& labels,
                       const torch::Tensor& logits) {
  check_state(logits, "logits buffer");
  const int64_t bsz = w.size(0), c = w.size(1), d = w.size(2), rows = x.size(1);
  TORCH_CHECK(x.is_cuda() && x.scalar_type() == torch::kFloat && x.dim() == 3 && x.size(0) == bsz && x.size(2) == d &&
                  x.stride(2) == 1 && x.stride(1) == d,
              "fused TTT step: x must be float32 CUDA [B, r, d] with contiguous rows");
  TORCH_CHECK(labels.is_cuda() && labels.scalar_type() == torch::kLong && labels.dim() == 2 && labels.size(0) == bsz &&
                  labels.size(1) == rows && labels.stride(1) == 1,
              "fused TTT step: labels must be int64 CUDA [B, r]");
  TORCH_CHECK(logits.size(0) == bsz && logits.size(1) == rows && logits.size(2) == c,
              "fused TTT step: logits buffer must be [B, r, C]");
}

// lr and the bias corrections of step `step`, rounded to float as the kernels use them.
cuda::AdamStepScalars step_scalars(int64_t step, const AdamHyper& h) {
  const double bc1 = 1 - std::pow(h.beta1, static_cast<double>(step));
  const double bc2 = 1 - std::pow(h.beta2, static_cast<double>(step));
  return {static_cast<float>(h.lr / bc1),  static_cast<float>(1 / std::sqrt(bc2)),
          static_cast<float>(h.beta1),     static_cast<float>(h.beta2),
          static_cast<float>(h.eps),       static_cast<float>(h.weight_decay),
          static_cast<float>(1 - h.beta1), static_cast<float>(1 - h.beta2)};
}

// One step; m_coef null: W's first moment is w_m, otherwise it is m_coef^T x (row space), and the
// next coefficients go to m_coef_next.
void step_(torch::Tensor& w, torch::Tensor& b, torch::Tensor* w_m, const torch::Tensor* m_coef,
           torch::Tensor* m_coef_next, torch::Tensor& w_v, torch::Tensor& b_m, torch::Tensor& b_v,
           const torch::Tensor& x, const torch::Tensor& labels, torch::Tensor& logits, int64_t step,
           const AdamHyper& h) {
  for (const auto* t : {&w, &w_v, &b, &b_m, &b_v}) check_state(*t, "head state");
  check_step_inputs(w, x, labels, logits);
  const int64_t bsz = w.size(0), c = w.size(1), d = w.size(2), rows = x.size(1);
  const cuda::AdamStepScalars s = step_scalars(step, h);
  const float* coef = nullptr;
  float* coef_next = nullptr;
  if (m_coef != nullptr) {
    check_state(*m_coef, "first-moment coefficients");
    check_state(*m_coef_next, "first-moment coefficients");
    TORCH_CHECK(
        m_coef->sizes() == logits.sizes() && m_coef_next->sizes() == logits.sizes() && !m_coef->is_same(*m_coef_next),
        "fused TTT step: m_coef and m_coef_next must be two different [B, r, C] buffers");
    TORCH_CHECK(h.weight_decay == 0, "fused TTT step: the row-space first moment needs weight_decay = 0");
    coef = m_coef->data_ptr<float>();
    coef_next = m_coef_next->data_ptr<float>();
  } else {
    check_state(*w_m, "head state");
  }

  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  // The bias rides in the product (beta = 1). Adding it in softmax_delta instead saved 0.014 ms per
  // point in the product but cost 0.026 in the kernel (H100, C=1000 d=512 k=50 T=80).
  torch::baddbmm_out(logits, b.unsqueeze(1), x, w.transpose(1, 2));
  cuda::launch_softmax_delta(logits.data_ptr<float>(), labels.data_ptr<int64_t>(), bsz, rows, c, labels.stride(0),
                             stream, coef, coef_next, s.beta1, s.one_minus_beta1);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  cuda::launch_grad_adam(logits.data_ptr<float>(), coef, x.data_ptr<float>(), x.stride(0), w.data_ptr<float>(),
                         coef != nullptr ? nullptr : w_m->data_ptr<float>(), w_v.data_ptr<float>(), b.data_ptr<float>(),
                         b_m.data_ptr<float>(), b_v.data_ptr<float>(), bsz, rows, c, d, s, stream);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

bool have_fused_step() { return true; }

void fused_ce_adam_step_(torch::Tensor& w, torch::Tensor& b, torch::Tensor& w_m, torch::Tensor& w_v, torch::Tensor& b_m,
                         torch::Tensor& b_v, const torch::Tensor& x, const torch::Tensor& labels, torch::Tensor& logits,
                         int64_t step, const AdamHyper& h) {
  step_(w, b, &w_m, nullptr, nullptr, w_v, b_m, b_v, x, labels, logits, step, h);
}

void fused_ce_adam_step_row_space_(torch::Tensor& w, torch::Tensor& b, torch::Tensor& m_coef,
                                   torch::Tensor& m_coef_next, torch::Tensor& w_v, torch::Tensor& b_m,
                                   torch::Tensor& b_v, const torch::Tensor& x, const torch::Tensor& labels,
                                   torch::Tensor& logits, int64_t step, const AdamHyper& h) {
  step_(w, b, nullptr, &m_coef, &m_coef_next, w_v, b_m, b_v, x, labels, logits, step, h);
  std::swap(m_coef, m_coef_next);
}

}  // namespace tttlab
