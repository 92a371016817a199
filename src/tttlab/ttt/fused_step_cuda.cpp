// The fused TTT step on CUDA: checks the tensors, then one cuBLAS product and two kernels.
#include <cmath>
#include <vector>

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include "tttlab/ttt/fused_step.hpp"
#include "tttlab/ttt/fused_step_kernels.hpp"
#include "tttlab/ttt/resident_ttt_kernels.hpp"

namespace tttlab {

namespace {

void check_state(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(t.is_cuda() && t.scalar_type() == torch::kFloat && t.is_contiguous(), "fused TTT step: ", name,
              " must be a contiguous float32 CUDA tensor");
}

// Adam's per-step scalars, computed in double as adam_update_ does, then rounded to float.
cuda::AdamStepScalars step_scalars(int64_t step, const AdamHyper& h) {
  const double bc1 = 1 - std::pow(h.beta1, static_cast<double>(step));
  const double bc2 = 1 - std::pow(h.beta2, static_cast<double>(step));
  return {static_cast<float>(h.lr / bc1),  static_cast<float>(std::sqrt(bc2)),
          static_cast<float>(h.beta1),     static_cast<float>(h.beta2),
          static_cast<float>(h.eps),       static_cast<float>(h.weight_decay),
          static_cast<float>(1 - h.beta1), static_cast<float>(1 - h.beta2)};
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

  const cuda::AdamStepScalars s = step_scalars(step, h);
  cuda::launch_grad_adam(logits.data_ptr<float>(), x.data_ptr<float>(), x.stride(0), w.data_ptr<float>(),
                         w_m.data_ptr<float>(), w_v.data_ptr<float>(), b.data_ptr<float>(), b_m.data_ptr<float>(),
                         b_v.data_ptr<float>(), bsz, rows, c, d, s, stream);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

bool have_resident_ttt(int64_t num_classes, int64_t dim, int64_t rows) {
  return cuda::resident_ttt_fits(num_classes, dim, rows);
}

void resident_ttt(const torch::Tensor& w0, const torch::Tensor& b0, const torch::Tensor& x,
                  const torch::Tensor& labels, const torch::Tensor& query, int64_t steps, const AdamHyper& h,
                  torch::Tensor& logits, torch::Tensor* w_out, torch::Tensor* b_out) {
  for (const torch::Tensor* t : {&w0, &b0, &x, &query}) check_state(*t, "resident TTT input");
  check_state(logits, "resident TTT logits");
  const int64_t bsz = x.size(0), rows = x.size(1), d = x.size(2), c = w0.size(0);
  TORCH_CHECK(w0.dim() == 2 && w0.size(1) == d && b0.size(0) == c && query.size(0) == bsz && query.size(1) == d &&
                  logits.size(0) == bsz && logits.size(1) == c,
              "resident TTT: shapes do not match");
  TORCH_CHECK(labels.is_cuda() && labels.scalar_type() == torch::kLong && labels.dim() == 2 &&
                  labels.size(0) == bsz && labels.size(1) >= rows && labels.stride(1) == 1,
              "resident TTT: labels must be int64 CUDA [B, >= r]");
  TORCH_CHECK(have_resident_ttt(c, d, rows), "resident TTT: shape C=", c, " d=", d, " r=", rows, " not supported");
  if (w_out) check_state(*w_out, "resident TTT output");
  if (b_out) check_state(*b_out, "resident TTT output");
  const int64_t padded = int64_t{64} * cuda::resident_ttt_blocks_per_point(c);
  auto m = torch::zeros({bsz, d, padded}, w0.options()), v = torch::zeros_like(m);
  std::vector<cuda::AdamStepScalars> scalars;
  for (int64_t t = 1; t <= steps; ++t) scalars.push_back(step_scalars(t, h));
  static_assert(sizeof(cuda::AdamStepScalars) == 8 * sizeof(float));
  const auto scalars_dev = torch::from_blob(scalars.data(), {static_cast<int64_t>(scalars.size()) * 8}, torch::kFloat)
                               .to(w0.device());
  const cuda::ResidentTttArgs args{w0.data_ptr<float>(), b0.data_ptr<float>(), x.data_ptr<float>(),
                                   labels.data_ptr<int64_t>(), labels.stride(0), query.data_ptr<float>(),
                                   m.data_ptr<float>(), v.data_ptr<float>(), logits.data_ptr<float>(),
                                   w_out ? w_out->data_ptr<float>() : nullptr,
                                   b_out ? b_out->data_ptr<float>() : nullptr,
                                   reinterpret_cast<const cuda::AdamStepScalars*>(scalars_dev.data_ptr<float>()),
                                   static_cast<int>(steps), static_cast<int>(rows), static_cast<int>(c),
                                   static_cast<int>(d), 0};
  cuda::launch_resident_ttt(args, bsz, at::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace tttlab
