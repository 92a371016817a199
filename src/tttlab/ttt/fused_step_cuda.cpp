// The fused TTT step on CUDA: checks the tensors, then one cuBLAS product and two kernels.
#include <cmath>

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

}  // namespace

bool have_fused_step() { return true; }

void fused_ce_adam_step_(torch::Tensor& w, torch::Tensor& b, torch::Tensor& w_m, torch::Tensor& w_v,
                         torch::Tensor& b_m, torch::Tensor& b_v, const torch::Tensor& x,
                         const torch::Tensor& labels, torch::Tensor& logits, int64_t step, const AdamHyper& h) {
  for (const auto* t : {&w, &w_m, &w_v, &b, &b_m, &b_v}) check_state(*t, "head state");
  check_state(logits, "logits buffer");
  const int64_t bsz = w.size(0), c = w.size(1), d = w.size(2), rows = x.size(1);
  TORCH_CHECK(x.is_cuda() && x.scalar_type() == torch::kFloat && x.dim() == 3 && x.size(0) == bsz &&
                  x.size(2) == d && x.stride(2) == 1 && x.stride(1) == d,
              "fused TTT step: x must be float32 CUDA [B, r, d] with contiguous rows");
  TORCH_CHECK(labels.is_cuda() && labels.scalar_type() == torch::kLong && labels.dim() == 2 &&
                  labels.size(0) == bsz && labels.size(1) == rows && labels.stride(1) == 1,
              "fused TTT step: labels must be int64 CUDA [B, r]");
  TORCH_CHECK(logits.size(0) == bsz && logits.size(1) == rows && logits.size(2) == c,
              "fused TTT step: logits buffer must be [B, r, C]");

  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  torch::baddbmm_out(logits, b.unsqueeze(1), x, w.transpose(1, 2));
  cuda::launch_softmax_delta(logits.data_ptr<float>(), labels.data_ptr<int64_t>(), bsz, rows, c, labels.stride(0),
                             stream);
  C10_CUDA_KERNEL_LAUNCH_CHECK();

  const double bc1 = 1 - std::pow(h.beta1, static_cast<double>(step));
  const double bc2 = 1 - std::pow(h.beta2, static_cast<double>(step));
  const cuda::AdamStepScalars s{static_cast<float>(h.lr / bc1),  static_cast<float>(std::sqrt(bc2)),
                                static_cast<float>(h.beta1),     static_cast<float>(h.beta2),
                                static_cast<float>(h.eps),       static_cast<float>(h.weight_decay),
                                static_cast<float>(1 - h.beta1), static_cast<float>(1 - h.beta2)};
  cuda::launch_grad_adam(logits.data_ptr<float>(), x.data_ptr<float>(), x.stride(0), w.data_ptr<float>(),
                         w_m.data_ptr<float>(), w_v.data_ptr<float>(), b.data_ptr<float>(), b_m.data_ptr<float>(),
                         b_v.data_ptr<float>(), bsz, rows, c, d, s, stream);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace tttlab
