#include <gtest/gtest.h>

#include "tttlab/ttt/adam.hpp"
#include "tttlab/ttt/adam_cpu.hpp"

using namespace tttlab;

namespace {

// Runs `steps` updates with torch::optim::Adam on a quadratic-ish loss and the same gradients
// through our two update functions; returns the three parameter tensors.
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> three_ways(torch::ScalarType dtype, double wd) {
  torch::manual_seed(0);
  const auto init = torch::randn({37, 11}, torch::TensorOptions().dtype(dtype));
  const auto target = torch::randn({37, 11}, torch::TensorOptions().dtype(dtype));
  const AdamHyper h{0.05, 0.85, 0.99, 1e-7, wd};

  auto p_ref = init.clone().set_requires_grad(true);
  torch::optim::Adam opt({p_ref},
                         torch::optim::AdamOptions(h.lr).betas({h.beta1, h.beta2}).eps(h.eps).weight_decay(wd));
  auto p_ops = init.clone(), m_ops = torch::zeros_like(init), v_ops = torch::zeros_like(init);
  auto p_cpu = init.clone(), m_cpu = torch::zeros_like(init), v_cpu = torch::zeros_like(init);
  for (int64_t step = 1; step <= 60; ++step) {
    opt.zero_grad();
    ((p_ref - target).pow(3).abs().sum()).backward();
    opt.step();
    torch::NoGradGuard g;
    const auto grad_ops = 3 * (p_ops - target).pow(2) * (p_ops - target).sign();
    adam_update_(p_ops, grad_ops, m_ops, v_ops, step, h);
    const auto grad_cpu = 3 * (p_cpu - target).pow(2) * (p_cpu - target).sign();
    fused_adam_update_cpu_(p_cpu, grad_cpu, m_cpu, v_cpu, step, h);
  }
  return {p_ref.detach(), p_ops, p_cpu};
}

}  // namespace

TEST(Adam, TensorOpsAndFusedCpuUpdateMatchTorchOptimAdam) {
  for (const double wd : {0.0, 0.1}) {
    auto [ref, ops, cpu] = three_ways(torch::kFloat64, wd);
    EXPECT_LT((ops - ref).abs().max().item<double>(), 1e-12) << "wd=" << wd;
    EXPECT_LT((cpu - ref).abs().max().item<double>(), 1e-12) << "wd=" << wd;
    auto [ref32, ops32, cpu32] = three_ways(torch::kFloat32, wd);
    EXPECT_LT((cpu32 - ref32).abs().max().item<double>() / ref32.abs().max().item<double>(), 1e-5);
    EXPECT_LT((ops32 - ref32).abs().max().item<double>() / ref32.abs().max().item<double>(), 1e-5);
  }
}
