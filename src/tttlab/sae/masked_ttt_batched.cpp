// The batched path of masked TTT: B test points as one problem. Each point owns W [C, d1], b [C],
// theta [d1] and their Adam moments; with x the neighbours' concepts [B, k, d1] and m = 1{theta > 0}:
//   z = m * x,  delta = (softmax(z W^T + b) - onehot) / k,
//   dW = delta^T z,  db = sum_k delta,
//   dm = sum_k (delta W) * x + 2 lambda m,  dtheta = dm * sigmoid(theta / tau)   (straight-through)
// which is what autograd computes on the reference path.
#include <algorithm>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/sae/masked_ttt.hpp"
#include "tttlab/ttt/adam.hpp"
#include "tttlab/ttt/adam_cpu.hpp"
#include "tttlab/ttt/local_fit_common.hpp"

namespace tttlab {

namespace {

void adam_(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& m, torch::Tensor& v, int64_t step,
           const AdamHyper& h) {
  if (p.is_cpu()) {
    fused_adam_update_cpu_(p, g, m, v, step, h);
  } else {
    adam_update_(p, g, m, v, step, h);
  }
}

}  // namespace

MaskedFitResult masked_fit_batched(const LinearHead& head, const LocalFitData& data_in, const MaskedFitConfig& cfg,
                                   const torch::Tensor& fixed_masks) {
  cfg.validate();
  check_local_fit_inputs(head, data_in, cfg.fit);
  torch::NoGradGuard no_grad;
  const int64_t m = data_in.test_x.size(0), c = head.num_classes(), d = head.dim(), k = cfg.fit.k;
  const bool learn = !fixed_masks.defined();
  require_input(learn || (fixed_masks.dim() == 2 && fixed_masks.size(0) == m && fixed_masks.size(1) == d),
                "masked TTT: fixed masks must be [M={}, d1={}]", m, d);
  const auto out_opts = head.weight.options().device(torch::kCPU);
  const auto opts = out_opts.device(cfg.fit.device);
  const LocalFitData data = local_fit_data_on(data_in, cfg.fit.device);
  const auto w0 = head.weight.to(opts), b0 = head.bias.to(opts);
  // Per point: W and its gradient, two moments and Adam's temporaries (5 C d1), the neighbours,
  // masked neighbours and their gradient (3 k d1), logits (3 k C), bias and theta terms.
  const int64_t per_point = head.weight.element_size() * (5 * c * d + 3 * k * d + 3 * k * c + 5 * c + 8 * d);
  const int64_t per_batch =
      std::min(std::max<int64_t>(m, 1),
               cfg.fit.points_per_batch > 0
                   ? cfg.fit.points_per_batch
                   : std::max<int64_t>(1, cfg.fit.effective_memory_budget() / std::max<int64_t>(per_point, 1)));
  const AdamHyper hyper{cfg.fit.lr, cfg.fit.beta1, cfg.fit.beta2, cfg.fit.eps, cfg.fit.weight_decay};

  MaskedFitResult out;
  out.fit = allocate_local_fit_result(m, c, d, out_opts, cfg.fit.keep_heads);
  out.masks = torch::empty({m, d}, torch::kBool);
  ProgressBar bar(learn ? "masked TTT (batched)" : "fixed-mask TTT (batched)", m, "pt");
  for (int64_t begin = 0; begin < m; begin += per_batch) {
    const int64_t end = std::min(m, begin + per_batch), bsz = end - begin;
    const NeighborBatch nb = gather_neighbors(data, k, begin, end);
    const auto x = nb.x.to(opts);                                  // [B, k, d1]
    const auto onehot = torch::one_hot(nb.y, c).to(opts.dtype());  // [B, k, C]
    auto w = w0.unsqueeze(0).repeat({bsz, 1, 1});
    auto b = b0.unsqueeze(0).repeat({bsz, 1});
    auto theta = torch::full({bsz, d}, cfg.mask_init, opts);
    auto w_m = torch::zeros_like(w), w_v = torch::zeros_like(w);
    auto b_m = torch::zeros_like(b), b_v = torch::zeros_like(b);
    auto t_m = torch::zeros_like(theta), t_v = torch::zeros_like(theta);
    auto grad_w = torch::empty_like(w);
    auto grad_b = torch::empty_like(b);
    const auto fixed = learn ? torch::Tensor() : fixed_masks.slice(0, begin, end).to(opts);
    auto mask_now = [&] { return learn ? theta.gt(0).to(opts.dtype()) : fixed; };
    auto z = learn ? torch::Tensor() : x * fixed.unsqueeze(1);  // a fixed mask: masked once

    for (int64_t t = 0; t < cfg.fit.steps; ++t) {
      const auto mask = mask_now();
      if (learn) z = x * mask.unsqueeze(1);
      auto delta = torch::softmax(torch::baddbmm(b.unsqueeze(1), z, w.transpose(1, 2)), 2);  // [B, k, C]
      delta.sub_(onehot).div_(static_cast<double>(k));
      torch::bmm_out(grad_w, delta.transpose(1, 2), z);
      torch::sum_out(grad_b, delta, {1});
      if (learn) {
        auto grad_mask = (torch::bmm(delta, w) * x).sum(1);  // [B, d1], before W moves
        grad_mask.add_(mask, 2 * cfg.penalty);
        const auto grad_theta = grad_mask.mul_(torch::sigmoid(theta / cfg.temperature));
        adam_(theta, grad_theta.contiguous(), t_m, t_v, t + 1, hyper);
      }
      adam_(w, grad_w, w_m, w_v, t + 1, hyper);
      adam_(b, grad_b, b_m, b_v, t + 1, hyper);
    }

    const auto mask = mask_now();
    const auto q = data.test_x.slice(0, begin, end).to(opts) * mask;  // [B, d1]
    const auto logits = torch::baddbmm(b.unsqueeze(1), q.unsqueeze(1), w.transpose(1, 2)).squeeze(1);
    out.fit.logits.slice(0, begin, end).copy_(logits);
    out.fit.pred.slice(0, begin, end).copy_(logits.argmax(1));
    out.masks.slice(0, begin, end).copy_(mask.gt(0.5));
    if (cfg.fit.keep_heads) {
      out.fit.weights.slice(0, begin, end).copy_(w);
      out.fit.biases.slice(0, begin, end).copy_(b);
    }
    bar.advance(bsz);
  }
  bar.finish();
  if (data.test_y.defined()) out.fit.ce = per_point_cross_entropy(out.fit.logits, data.test_y);
  return out;
}

}  // namespace tttlab
