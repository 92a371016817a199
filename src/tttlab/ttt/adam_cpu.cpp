#include "tttlab/ttt/adam_cpu.hpp"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <cmath>

namespace tttlab {

namespace {

// The element loop, free of aliasing (restrict) and of branches, so the compiler vectorises it;
// target_clones adds an AVX2 version picked at load time on CPUs that have it.
template <typename T>
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n, T b1,
               T one_minus_b1, T b2, T one_minus_b2, T wd, T eps, T sqrt_bc2, T step_size) {
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i] + wd * p[i];  // wd = 0 adds exactly 0
    const T mi = m[i] * b1 + gi * one_minus_b1;
    const T vi = v[i] * b2 + one_minus_b2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step_size * (mi / (std::sqrt(vi) / sqrt_bc2 + eps));
  }
}

}  // namespace

void fused_adam_update_cpu_(torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& exp_avg,
                            torch::Tensor& exp_avg_sq, int64_t step, const AdamHyper& h) {
  TORCH_CHECK(param.is_cpu() && param.is_contiguous() && grad.is_contiguous() && exp_avg.is_contiguous() &&
                  exp_avg_sq.is_contiguous(),
              "fused_adam_update_cpu_: expects contiguous CPU tensors");
  TORCH_CHECK(param.numel() == grad.numel() && param.numel() == exp_avg.numel() && param.numel() == exp_avg_sq.numel(),
              "fused_adam_update_cpu_: size mismatch");
  const double bias_correction1 = 1 - std::pow(h.beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(h.beta2, static_cast<double>(step));
  AT_DISPATCH_FLOATING_TYPES(param.scalar_type(), "fused_adam_update_cpu_", [&] {
    using T = scalar_t;
    T* p = param.data_ptr<T>();
    const T* g = grad.data_ptr<T>();
    T* m = exp_avg.data_ptr<T>();
    T* v = exp_avg_sq.data_ptr<T>();
    at::parallel_for(0, param.numel(), 16384, [&](int64_t begin, int64_t end) {
      adam_loop<T>(p + begin, g + begin, m + begin, v + begin, end - begin, static_cast<T>(h.beta1),
                   static_cast<T>(1 - h.beta1), static_cast<T>(h.beta2), static_cast<T>(1 - h.beta2),
                   static_cast<T>(h.weight_decay), static_cast<T>(h.eps), static_cast<T>(std::sqrt(bias_correction2)),
                   static_cast<T>(h.lr / bias_correction1));
    });
  });
}

}  // namespace tttlab
