#pragma once
// The TTT engine's equivalence kit for tests: the shared problem and comparison
// (tttlab/ttt/ttt_problem.hpp), named tolerances, and an oracle written apart from the engine.
#include <cmath>
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "tttlab/ttt/local_fit.hpp"
#include "tttlab/ttt/ttt_problem.hpp"

namespace tttlab::test {

// Relative tolerances for max_relative_difference of adapted heads.
// Two float32 paths that do the same arithmetic in another order (autograd vs the analytic gradient,
// the fused CPU Adam pass vs torch::optim::Adam): float32 rounds at 6e-8 and tens of Adam steps
// amplify it to ~1e-6 at most on the tests' problems; 1e-5 leaves a margin of ten.
inline constexpr double kFloat32Tol = 1e-5;
// The same in float64: rounding at 1e-16, amplified alike; 1e-10 still rejects any real difference.
inline constexpr double kFloat64Tol = 1e-10;
// Float32 on CUDA against a CPU path or the stored-moment kernel against the row-space one: cuBLAS
// sums the k rows in another order and the row-space moment is a product of two rounded factors,
// so tens of steps drift ~1e-5; 1e-4 leaves a margin.
inline constexpr double kCudaFloat32Tol = 1e-4;
// A float32 path against the float64 oracle: float32's own rounding of every input and step.
inline constexpr double kFloat32VsFloat64Tol = 1e-4;
// Logits of a float32 path against the reference's (cross-entropies and logits are O(1)).
inline constexpr double kFloat32LogitAbsTol = 1e-4;

// The local fit computed independently of src/tttlab/ttt: float64, each point on its own, neighbours
// picked straight from data.neighbors (row t mod k in sequential mode, nearest first), the gradient
// of the mean cross-entropy by hand, Adam as torch.optim.Adam documents it. Returns the adapted
// heads [M, C, d] and [M, C] in float64.
struct OracleHeads {
  torch::Tensor weights, biases;
};

inline OracleHeads oracle_local_fit(const LinearHead& head, const LocalFitData& data, const LocalFitConfig& cfg) {
  torch::NoGradGuard no_grad;
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  const auto train_x = data.train_x.to(torch::kCPU, torch::kDouble);
  const auto train_y = data.train_y.to(torch::kCPU);
  const auto nb = data.neighbors.to(torch::kCPU).contiguous();
  const auto nb_acc = nb.accessor<int64_t, 2>();
  const auto y_acc = train_y.accessor<int64_t, 1>();
  const int64_t m = data.test_x.size(0), c = head.weight.size(0), d = head.weight.size(1);
  OracleHeads out{torch::empty({m, c, d}, f64), torch::empty({m, c}, f64)};
  for (int64_t i = 0; i < m; ++i) {
    auto w = head.weight.to(torch::kCPU, torch::kDouble).clone(), b = head.bias.to(torch::kCPU, torch::kDouble).clone();
    auto mw = torch::zeros_like(w), vw = torch::zeros_like(w), mb = torch::zeros_like(b), vb = torch::zeros_like(b);
    for (int64_t t = 0; t < cfg.steps; ++t) {
      std::vector<int64_t> rows;
      if (cfg.mode == LocalFitMode::Erm) {
        for (int64_t j = 0; j < cfg.k; ++j) rows.push_back(nb_acc[i][j]);
      } else {
        rows.push_back(nb_acc[i][t % cfg.k]);
      }
      const auto r = static_cast<int64_t>(rows.size());
      auto x = torch::empty({r, d}, f64), onehot = torch::zeros({r, c}, f64);
      for (int64_t j = 0; j < r; ++j) {
        x[j].copy_(train_x[rows[j]]);
        onehot[j][y_acc[rows[j]]] = 1.0;
      }
      const auto logits = x.matmul(w.t()) + b;
      const auto e = (logits - std::get<0>(logits.max(1, true))).exp();
      const auto delta = (e / e.sum(1, true) - onehot) / static_cast<double>(r);
      auto gw = delta.t().matmul(x) + cfg.weight_decay * w;
      auto gb = delta.sum(0) + cfg.weight_decay * b;
      const double bc1 = 1 - std::pow(cfg.beta1, static_cast<double>(t + 1));
      const double bc2 = 1 - std::pow(cfg.beta2, static_cast<double>(t + 1));
      mw = cfg.beta1 * mw + (1 - cfg.beta1) * gw;
      vw = cfg.beta2 * vw + (1 - cfg.beta2) * gw * gw;
      mb = cfg.beta1 * mb + (1 - cfg.beta1) * gb;
      vb = cfg.beta2 * vb + (1 - cfg.beta2) * gb * gb;
      w = w - cfg.lr * (mw / bc1) / ((vw / bc2).sqrt() + cfg.eps);
      b = b - cfg.lr * (mb / bc1) / ((vb / bc2).sqrt() + cfg.eps);
    }
    out.weights[i].copy_(w);
    out.biases[i].copy_(b);
  }
  return out;
}

}  // namespace tttlab::test
