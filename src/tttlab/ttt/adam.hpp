#pragma once
// One Adam update in place, in exactly the order of operations torch::optim::Adam uses (L2 weight
// decay added to the gradient, bias corrections, denominator sqrt(v)/sqrt(bc2) + eps), so that
// a batched trajectory matches the optimizer's bit for bit up to rounding of the gradient.
#include <cmath>
#include <cstdint>

#include <torch/torch.h>

namespace tttlab {

struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
};

inline void adam_update_(torch::Tensor& param, torch::Tensor grad, torch::Tensor& exp_avg, torch::Tensor& exp_avg_sq,
                         int64_t step, const AdamHyper& h) {
  if (h.weight_decay != 0) grad = grad.add(param, h.weight_decay);
  const double bias_correction1 = 1 - std::pow(h.beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(h.beta2, static_cast<double>(step));
  exp_avg.mul_(h.beta1).add_(grad, 1 - h.beta1);
  exp_avg_sq.mul_(h.beta2).addcmul_(grad, grad, 1 - h.beta2);
  const auto denom = (exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(h.eps);
  param.addcdiv_(exp_avg, denom, -h.lr / bias_correction1);
}

}  // namespace tttlab
