#include "tttlab/ttt/adam_cpu.hpp"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <cmath>

namespace tttlab {

void fused_adam_update_cpu_(torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& exp_avg,
                            torch::Tensor& exp_avg_sq, int64_t step, const AdamHyper& h) {
  TORCH_CHECK(param.is_cpu() && param.is_contiguous() && grad.is_contiguous() && exp_avg.is_contiguous() &&
                  exp_avg_sq.is_contiguous(),
              "fused_adam_update_cpu_: expects contiguous CPU tensors");
  TORCH_CHECK(param.numel() == grad.numel() && param.numel() == exp_avg.numel() &&
                  param.numel() == exp_avg_sq.numel(),
              "fused_adam_update_cpu_: size mismatch");
  const double bias_correction1 = 1 - std::pow(h.beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(h.beta2, static_cast<double>(step));
  AT_DISPATCH_FLOATING_TYPES(param.scalar_type(), "fused_adam_update_cpu_", [&] {
    using T = scalar_t;
    T* p = param.data_ptr<T>();
    const T* g = grad.data_ptr<T>();
    T* m = exp_avg.data_ptr<T>();
    T* v = exp_avg_sq.data_ptr<T>();
    const T b1 = static_cast<T>(h.beta1), one_minus_b1 = static_cast<T>(1 - h.beta1);
    const T b2 = static_cast<T>(h.beta2), one_minus_b2 = static_cast<T>(1 - h.beta2);
    const T wd = static_cast<T>(h.weight_decay), eps = static_cast<T>(h.eps);
    const T sqrt_bc2 = static_cast<T>(std::sqrt(bias_correction2));
    const T step_size = static_cast<T>(h.lr / bias_correction1);
    at::parallel_for(0, param.numel(), 16384, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T gi = wd != T(0) ? g[i] + wd * p[i] : g[i];
        m[i] = m[i] * b1 + gi * one_minus_b1;
        v[i] = v[i] * b2 + one_minus_b2 * gi * gi;
        p[i] -= step_size * (m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps));
      }
    });
  });
}

}  // namespace tttlab
