// The batched path: B test points solved as one problem. Each point owns its slice of
// W [B, C, d], b [B, C] and of the Adam moments, and its gradient depends on its own neighbours
// only, so the batch is B independent trajectories computed with a handful of large kernels
// (two batched matrix products and a few element-wise passes per step) instead of B x T small ones.
#include <algorithm>

#include "tttlab/core/progress.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/ttt/adam.hpp"
#include "tttlab/ttt/adam_cpu.hpp"
#include "tttlab/ttt/fused_step.hpp"
#include "tttlab/ttt/local_fit.hpp"
#include "tttlab/ttt/local_fit_common.hpp"

namespace tttlab {

namespace {

LocalFitPath batched_path(const LocalFitConfig& cfg, int64_t element_size) {
  if (!cfg.device.is_cuda()) return LocalFitPath::BatchedCpu;
  // The fused CUDA step serves float32 heads on CUDA (unless cfg.fused is off) ...
  if (!cfg.fused || element_size != 4 || !have_fused_step()) return LocalFitPath::BatchedCuda;
  // ... and keeps W's first moment in the row space of the neighbours (k x C coefficients instead of
  // C x d moments) when every step sees the same rows and there is no weight decay (fused_step.hpp).
  return cfg.mode == LocalFitMode::Erm && cfg.weight_decay == 0 ? LocalFitPath::FusedRowSpace : LocalFitPath::Fused;
}

bool uses_fused_step(const LocalFitConfig& cfg, int64_t element_size) {
  const LocalFitPath path = batched_path(cfg, element_size);
  return path == LocalFitPath::Fused || path == LocalFitPath::FusedRowSpace;
}

bool uses_row_space_moment(const LocalFitConfig& cfg, int64_t element_size) {
  return batched_path(cfg, element_size) == LocalFitPath::FusedRowSpace;
}

}  // namespace

LocalFitPath local_fit_path(const LocalFitConfig& cfg, torch::ScalarType dtype) {
  return batched_path(cfg, static_cast<int64_t>(c10::elementSize(dtype)));
}

int64_t local_fit_points_per_batch(int64_t num_classes, int64_t dim, int64_t k, int64_t element_size,
                                   const LocalFitConfig& cfg) {
  if (cfg.points_per_batch > 0) return cfg.points_per_batch;
  // Copies of the head per point: on the CPU W, its gradient, two moments and the Adam denominator;
  // the fused CUDA step W and two moments (one in row space); LibTorch's element-wise Adam on CUDA
  // up to three temporaries more. Then neighbours (k d); logits, probabilities and one-hot targets,
  // or the fused step's logits and two buffers of row-space coefficients (3 k C); bias terms (5 C).
  int64_t head_copies = 5;
  if (cfg.device.is_cuda()) {
    head_copies = uses_row_space_moment(cfg, element_size) ? 2 : uses_fused_step(cfg, element_size) ? 3 : 8;
  }
  const int64_t per_point =
      element_size * (head_copies * num_classes * dim + k * dim + 3 * k * num_classes + 5 * num_classes);
  return std::max<int64_t>(1, cfg.effective_memory_budget() / std::max<int64_t>(per_point, 1));
}

namespace {

// Gradient of the mean cross-entropy over the rows of x for every point of the batch:
// dL/dlogits = (softmax - onehot) / rows; dW = dlogits^T x; db = sum_rows dlogits.
void ce_gradient(const torch::Tensor& w, const torch::Tensor& b, const torch::Tensor& x, const torch::Tensor& onehot,
                 torch::Tensor& grad_w, torch::Tensor& grad_b) {
  const auto logits = torch::baddbmm(b.unsqueeze(1), x, w.transpose(1, 2));  // [B, rows, C]
  auto delta = torch::softmax(logits, 2);
  delta.sub_(onehot).div_(static_cast<double>(x.size(1)));
  torch::bmm_out(grad_w, delta.transpose(1, 2), x);  // [B, C, d]
  torch::sum_out(grad_b, delta, {1});                // [B, C]
}

}  // namespace

LocalFitResult local_fit_batched(const LinearHead& head, const LocalFitData& data_in, const LocalFitConfig& cfg) {
  check_local_fit_inputs(head, data_in, cfg);
  torch::NoGradGuard no_grad;
  const int64_t m = data_in.test_x.size(0), c = head.num_classes(), d = head.dim(), k = cfg.k;
  const auto out_opts = head.weight.options().device(torch::kCPU);
  const auto opts = out_opts.device(cfg.device);
  const LocalFitData data = local_fit_data_on(data_in, cfg.device);
  const auto w0 = head.weight.to(opts), b0 = head.bias.to(opts);
  const int64_t per_batch =
      std::min(std::max<int64_t>(m, 1), local_fit_points_per_batch(c, d, k, head.weight.element_size(), cfg));
  const AdamHyper hyper{cfg.lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay};
  const bool fused = uses_fused_step(cfg, head.weight.element_size());
  const bool row_space = uses_row_space_moment(cfg, head.weight.element_size());
  const int64_t rows = cfg.mode == LocalFitMode::Erm ? k : 1;

  LocalFitResult out = allocate_local_fit_result(m, c, d, out_opts, cfg.keep_heads,
                                                 static_cast<int64_t>(cfg.logits_at_steps.size()));
  ProgressBar bar(fused ? "TTT (fused)" : "TTT (batched)", m, "pt");
  for (int64_t begin = 0; begin < m; begin += per_batch) {
    const int64_t end = std::min(m, begin + per_batch), bsz = end - begin;
    const NeighborBatch nb = gather_neighbors(data, k, begin, end);
    const auto x = nb.x.to(opts);                                                            // [B, k, d]
    const auto onehot = fused ? torch::Tensor() : torch::one_hot(nb.y, c).to(opts.dtype());  // [B, k, C]

    // repeat() always copies (expand().contiguous() would alias the head when bsz == 1, and the
    // in-place Adam steps would then overwrite the global head).
    auto w = w0.unsqueeze(0).repeat({bsz, 1, 1});
    auto b = b0.unsqueeze(0).repeat({bsz, 1});
    auto w_m = row_space ? torch::Tensor() : torch::zeros_like(w), w_v = torch::zeros_like(w);
    auto m_coef = row_space ? torch::zeros({bsz, rows, c}, opts) : torch::Tensor();
    auto m_coef_next = row_space ? torch::empty({bsz, rows, c}, opts) : torch::Tensor();
    auto b_m = torch::zeros_like(b), b_v = torch::zeros_like(b);
    auto grad_w = fused ? torch::Tensor() : torch::empty_like(w);
    auto grad_b = fused ? torch::Tensor() : torch::empty_like(b);
    auto logits_buffer = fused ? torch::empty({bsz, rows, c}, opts) : torch::Tensor();
    const auto q = data.test_x.slice(0, begin, end).to(opts);  // [B, d]
    record_step_logits(cfg, 0, w, b, q, begin, out);

    for (int64_t t = 0; t < cfg.steps; ++t) {
      if (t > 0) record_step_logits(cfg, t, w, b, q, begin, out);
      const int64_t j = cfg.mode == LocalFitMode::Erm ? 0 : t % k;  // first row of this step
      if (row_space) {
        fused_ce_adam_step_row_space_(w, b, m_coef, m_coef_next, w_v, b_m, b_v, x, nb.y, logits_buffer, t + 1, hyper);
        continue;
      }
      if (fused) {
        fused_ce_adam_step_(w, b, w_m, w_v, b_m, b_v, x.slice(1, j, j + rows), nb.y.slice(1, j, j + rows),
                            logits_buffer, t + 1, hyper);
        continue;
      }
      ce_gradient(w, b, x.slice(1, j, j + rows), onehot.slice(1, j, j + rows), grad_w, grad_b);
      if (w.is_cpu()) {  // one fused pass over each tensor
        fused_adam_update_cpu_(w, grad_w, w_m, w_v, t + 1, hyper);
        fused_adam_update_cpu_(b, grad_b, b_m, b_v, t + 1, hyper);
      } else {
        adam_update_(w, grad_w, w_m, w_v, t + 1, hyper);
        adam_update_(b, grad_b, b_m, b_v, t + 1, hyper);
      }
    }

    if (cfg.steps > 0) record_step_logits(cfg, cfg.steps, w, b, q, begin, out);
    const auto logits = torch::baddbmm(b.unsqueeze(1), q.unsqueeze(1), w.transpose(1, 2)).squeeze(1);
    out.logits.slice(0, begin, end).copy_(logits);
    out.pred.slice(0, begin, end).copy_(logits.argmax(1));
    if (cfg.keep_heads) {
      out.weights.slice(0, begin, end).copy_(w);
      out.biases.slice(0, begin, end).copy_(b);
    }
    bar.advance(bsz);
  }
  bar.finish();
  if (data.test_y.defined()) out.ce = per_point_cross_entropy(out.logits, data.test_y);
  return out;
}

}  // namespace tttlab
