// The reference path: the paper's protocol written plainly, one test point at a time, with autograd
// and torch::optim::Adam. Slow (kernel-launch bound) and obviously right; the batched path is
// tested against it.
#include "tttlab/core/progress.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/ttt/local_fit.hpp"
#include "tttlab/ttt/local_fit_common.hpp"

namespace tttlab {

LocalFitResult local_fit_reference(const LinearHead& head, const LocalFitData& data_in, const LocalFitConfig& cfg) {
  check_local_fit_inputs(head, data_in, cfg);
  const int64_t m = data_in.test_x.size(0), c = head.num_classes(), d = head.dim();
  const auto out_opts = head.weight.options().device(torch::kCPU);
  const LocalFitData data = local_fit_data_on(data_in, cfg.device);
  const auto w0 = head.weight.to(cfg.device), b0 = head.bias.to(cfg.device);
  LocalFitResult out =
      allocate_local_fit_result(m, c, d, out_opts, cfg.keep_heads, static_cast<int64_t>(cfg.logits_at_steps.size()));
  ProgressBar bar("TTT (reference)", m, "pt");
  for (int64_t i = 0; i < m; ++i) {
    const NeighborBatch nb = gather_neighbors(data, cfg.k, i, i + 1);
    const auto x = nb.x[0], y = nb.y[0];  // [k, d], [k]
    auto w = w0.detach().clone().set_requires_grad(true);
    auto b = b0.detach().clone().set_requires_grad(true);
    torch::optim::Adam opt(
        {w, b},
        torch::optim::AdamOptions(cfg.lr).betas({cfg.beta1, cfg.beta2}).eps(cfg.eps).weight_decay(cfg.weight_decay));
    const auto q = data.test_x.slice(0, i, i + 1);
    auto record = [&](int64_t step) {
      record_step_logits(cfg, step, w.detach().unsqueeze(0), b.detach().unsqueeze(0), q, i, out);
    };
    for (int64_t t = 0; t < cfg.steps; ++t) {
      record(t);
      opt.zero_grad();
      torch::Tensor loss;
      if (cfg.mode == LocalFitMode::Erm) {
        loss = torch::nn::functional::cross_entropy(torch::addmm(b, x, w.t()), y);
      } else {
        const int64_t j = t % cfg.k;
        loss = torch::nn::functional::cross_entropy(torch::addmm(b, x.slice(0, j, j + 1), w.t()), y.slice(0, j, j + 1));
      }
      loss.backward();
      opt.step();
    }
    record(cfg.steps);
    torch::NoGradGuard no_grad;
    const auto logits = torch::addmv(b, w, data.test_x[i]);
    out.logits[i].copy_(logits);
    out.pred[i] = logits.argmax().item<int64_t>();
    if (cfg.keep_heads) {
      out.weights[i].copy_(w);
      out.biases[i].copy_(b);
    }
    bar.advance();
  }
  if (data.test_y.defined()) out.ce = per_point_cross_entropy(out.logits, data.test_y);
  return out;
}

}  // namespace tttlab
