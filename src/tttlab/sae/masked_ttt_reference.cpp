// The reference path of masked TTT: one test point at a time, autograd and torch::optim::Adam.
// The straight-through mask is m = 1{theta > 0} + s - detach(s) with s = tau softplus(theta / tau):
// its value is exactly the step function and its gradient is ds/dtheta = sigmoid(theta / tau).
#include "tttlab/core/progress.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/sae/masked_ttt.hpp"
#include "tttlab/ttt/local_fit_common.hpp"

namespace tttlab {

MaskedFitResult masked_fit_reference(const LinearHead& head, const LocalFitData& data_in, const MaskedFitConfig& cfg,
                                     const torch::Tensor& fixed_masks) {
  cfg.validate();
  check_local_fit_inputs(head, data_in, cfg.fit);
  const int64_t m = data_in.test_x.size(0), c = head.num_classes(), d = head.dim();
  const torch::Device device = cfg.fit.device;
  const auto out_opts = head.weight.options().device(torch::kCPU);
  const LocalFitData data = local_fit_data_on(data_in, device);
  const auto w0 = head.weight.to(device), b0 = head.bias.to(device);
  MaskedFitResult out;
  out.fit = allocate_local_fit_result(m, c, d, out_opts, cfg.fit.keep_heads);
  out.masks = torch::empty({m, d}, torch::kBool);
  ProgressBar bar("masked TTT (reference)", m, "pt");
  for (int64_t i = 0; i < m; ++i) {
    const NeighborBatch nb = gather_neighbors(data, cfg.fit.k, i, i + 1);
    const auto x = nb.x[0], y = nb.y[0];  // [k, d], [k]
    auto w = w0.detach().clone().set_requires_grad(true);
    auto b = b0.detach().clone().set_requires_grad(true);
    auto theta = torch::full({d}, cfg.mask_init, w0.options()).set_requires_grad(true);
    std::vector<torch::Tensor> params{w, b};
    if (!fixed_masks.defined()) params.push_back(theta);
    torch::optim::Adam opt(params, torch::optim::AdamOptions(cfg.fit.lr)
                                       .betas({cfg.fit.beta1, cfg.fit.beta2})
                                       .eps(cfg.fit.eps)
                                       .weight_decay(cfg.fit.weight_decay));
    auto mask_of = [&]() -> torch::Tensor {
      if (fixed_masks.defined()) return fixed_masks[i].to(device, w0.scalar_type());
      const auto s = cfg.temperature * torch::softplus(theta / cfg.temperature);
      return theta.gt(0).to(theta.scalar_type()) + s - s.detach();
    };
    for (int64_t t = 0; t < cfg.fit.steps; ++t) {
      opt.zero_grad();
      const auto mask = mask_of();
      auto loss = torch::nn::functional::cross_entropy(torch::addmm(b, x * mask, w.t()), y);
      if (!fixed_masks.defined()) loss = loss + cfg.penalty * mask.pow(2).sum();
      loss.backward();
      opt.step();
    }
    torch::NoGradGuard no_grad;
    const auto mask = mask_of().detach();
    const auto logits = torch::addmv(b, w, data.test_x[i] * mask);
    out.fit.logits[i].copy_(logits);
    out.fit.pred[i] = logits.argmax().item<int64_t>();
    out.masks[i].copy_(mask.gt(0.5));
    if (cfg.fit.keep_heads) {
      out.fit.weights[i].copy_(w);
      out.fit.biases[i].copy_(b);
    }
    bar.advance();
  }
  if (data.test_y.defined()) out.fit.ce = per_point_cross_entropy(out.fit.logits, data.test_y);
  return out;
}

}  // namespace tttlab
