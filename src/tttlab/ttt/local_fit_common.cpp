#include <algorithm>
#include <cmath>

#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/shape.hpp"
#include "tttlab/ttt/local_fit.hpp"
#include "tttlab/ttt/local_fit_common.hpp"

namespace tttlab {

std::string to_string(LocalFitMode mode) { return mode == LocalFitMode::Erm ? "erm" : "sequential"; }

LocalFitMode local_fit_mode_from_string(const std::string& name) {
  if (name == "erm") return LocalFitMode::Erm;
  if (name == "sequential") return LocalFitMode::Sequential;
  throw_input_error("TTT mode '{}' is unknown (expected 'erm' or 'sequential')", name);
}

std::string to_string(LocalFitPath path) {
  switch (path) {
    case LocalFitPath::Reference:
      return "reference";
    case LocalFitPath::BatchedCpu:
      return "batched-cpu";
    case LocalFitPath::BatchedCuda:
      return "batched-cuda";
    case LocalFitPath::Fused:
      return "fused";
    case LocalFitPath::FusedRowSpace:
      return "fused-rowspace";
  }
  return "unknown";
}

void LocalFitConfig::validate() const {
  require_input(k >= 1, "k={} (expected at least 1 neighbour)", k);
  require_input(steps >= 0, "steps={} (expected >= 0)", steps);
  require_input(std::isfinite(lr) && lr > 0, "lr={} (expected a positive number)", lr);
  require_input(std::isfinite(weight_decay) && weight_decay >= 0, "weight decay={} (expected >= 0)", weight_decay);
  require_input(beta1 >= 0 && beta1 < 1, "beta1={} (expected in [0, 1))", beta1);
  require_input(beta2 >= 0 && beta2 < 1, "beta2={} (expected in [0, 1))", beta2);
  require_input(std::isfinite(eps) && eps > 0, "eps={} (expected > 0)", eps);
  require_input(points_per_batch >= 0, "points per batch={} (expected >= 0; 0 = automatic)", points_per_batch);
  require_input(memory_budget_bytes >= 0, "memory budget={} bytes (expected >= 0; 0 = automatic)", memory_budget_bytes);
  require_input(device.is_cpu() || device.is_cuda(), "TTT device {} (expected cpu or cuda)", device.str());
  for (size_t i = 0; i < logits_at_steps.size(); ++i) {
    const int64_t s = logits_at_steps[i];
    require_input(s >= 0 && s <= steps, "logits at step {} (expected 0..{}, the steps run)", s, steps);
    require_input(i == 0 || s > logits_at_steps[i - 1], "logits at steps: {} after {} (expected ascending)", s,
                  logits_at_steps[i - 1]);
  }
}

int64_t LocalFitConfig::effective_memory_budget() const {
  if (memory_budget_bytes > 0) return memory_budget_bytes;
  if (device.is_cuda()) return std::max<int64_t>(int64_t{64} << 20, free_device_memory(device) / 10 * 7);
  return int64_t{16} << 20;
}

void check_local_fit_inputs(const LinearHead& head, const LocalFitData& data, const LocalFitConfig& cfg) {
  cfg.validate();
  require_input(head.weight.dim() == 2 && head.bias.dim() == 1 && head.bias.size(0) == head.weight.size(0),
                "head: weight must be [C, d] and bias [C]");
  require_input(data.train_x.dim() == 2 && data.test_x.dim() == 2, "TTT: features must be 2-D [rows, d]");
  const int64_t n = data.train_x.size(0), m = data.test_x.size(0), d = head.dim();
  require_input(n > 0, "TTT: the training set is empty");
  require_input(data.train_x.size(1) == d && data.test_x.size(1) == d,
                "TTT: features have width {} (train) and {} (test), but the head expects {}", data.train_x.size(1),
                data.test_x.size(1), d);
  require_input(data.train_y.dim() == 1 && data.train_y.size(0) == n, "TTT: train labels must be [N={}]", n);
  require_input(cfg.k <= n, "k={} is larger than the training set (N={})", cfg.k, n);
  require_input(data.neighbors.dim() == 2 && data.neighbors.size(0) == m, "TTT: neighbours must be [M={}, k], got {}",
                m, shape_string(data.neighbors.sizes()));
  require_input(data.neighbors.size(1) >= cfg.k, "k={} but only {} neighbours were searched per test point", cfg.k,
                data.neighbors.size(1));
  check_neighbor_indices(data.neighbors.slice(1, 0, cfg.k), n, "TTT");
  const int64_t c = head.num_classes();
  require_input(data.train_y.min().item<int64_t>() >= 0 && data.train_y.max().item<int64_t>() < c,
                "TTT: a training label is outside 0..{} (the head has {} classes)", c - 1, c);
  if (data.test_y.defined() && m > 0) {
    require_input(data.test_y.dim() == 1 && data.test_y.size(0) == m, "TTT: test labels must be [M={}]", m);
    require_input(data.test_y.min().item<int64_t>() >= 0 && data.test_y.max().item<int64_t>() < c,
                  "TTT: a test label is outside 0..{} (the head has {} classes)", c - 1, c);
  }
}

void check_neighbor_indices(const torch::Tensor& neighbors, int64_t n, const char* what) {
  if (neighbors.numel() == 0) return;
  require_input(neighbors.min().item<int64_t>() >= 0 && neighbors.max().item<int64_t>() < n,
                "{}: a neighbour index is outside the training set [0, {})", what, n);
}

LocalFitData local_fit_data_on(const LocalFitData& data, torch::Device device) {
  // Test labels stay where they are: they only score the predictions, on the CPU.
  return {data.train_x.to(device), data.train_y.to(device), data.test_x.to(device), data.test_y,
          data.neighbors.to(device)};
}

NeighborBatch gather_neighbors(const LocalFitData& data, int64_t k, int64_t begin, int64_t end) {
  const auto idx = data.neighbors.slice(0, begin, end).slice(1, 0, k).contiguous();
  const int64_t b = end - begin;
  const auto flat = idx.reshape({-1});
  return {data.train_x.index_select(0, flat).reshape({b, k, data.train_x.size(1)}),
          data.train_y.index_select(0, flat).reshape({b, k})};
}

LocalFitResult allocate_local_fit_result(int64_t m, int64_t c, int64_t d, const torch::TensorOptions& opts,
                                         bool keep_heads, int64_t logit_steps) {
  LocalFitResult out;
  out.pred = torch::empty({m}, torch::kLong);
  out.logits = torch::empty({m, c}, opts);
  if (logit_steps > 0) out.step_logits = torch::empty({logit_steps, m, c}, opts);
  if (keep_heads) {
    out.weights = torch::empty({m, c, d}, opts);
    out.biases = torch::empty({m, c}, opts);
  }
  return out;
}

void record_step_logits(const LocalFitConfig& cfg, int64_t step, const torch::Tensor& w, const torch::Tensor& b,
                        const torch::Tensor& q, int64_t begin, LocalFitResult& out) {
  const auto& at = cfg.logits_at_steps;
  const auto it = std::lower_bound(at.begin(), at.end(), step);
  if (it == at.end() || *it != step) return;
  torch::NoGradGuard no_grad;
  const auto logits = torch::baddbmm(b.unsqueeze(1), q.unsqueeze(1), w.transpose(1, 2)).squeeze(1);  // [B, C]
  out.step_logits[it - at.begin()].slice(0, begin, begin + q.size(0)).copy_(logits);
}

torch::Tensor batched_logits_at_steps(const LinearHead& head, const LocalFitData& data, LocalFitConfig cfg,
                                      const std::vector<int64_t>& steps) {
  require_input(!steps.empty(), "logits at steps: no step counts given");
  cfg.steps = steps.back();
  cfg.keep_heads = false;
  cfg.logits_at_steps = steps;
  return local_fit_batched(head, data, cfg).step_logits;
}

}  // namespace tttlab
