// Benchmark: the batched TTT path against the reference per-point loop on CPU, in the same run.
// Settings: a small head (C=10, d=50, k=100, T=100) and an ImageNet-sized one (C=1000, d=512, k=50, T=80).
// Prints ms per test point for each path and the speed-up; also checks that both paths agree.
//   bench_ttt_cpu [--quick]      (--quick: fewer points, for a smoke run)
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <torch/torch.h>

#include "tttlab/core/progress.hpp"
#include "tttlab/ttt/local_fit.hpp"
#include "tttlab/ttt/ttt_problem.hpp"

using namespace tttlab;

namespace {

struct Setting {
  int64_t c, d, k, steps, n_train, ref_points, batched_points;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run(const Setting& s) {
  TttProblemSpec spec;
  spec.n = s.n_train;
  spec.m = s.batched_points;
  spec.d = s.d;
  spec.c = s.c;
  spec.k = s.k;
  spec.seed = 0;
  spec.feature_scale = 1 / std::sqrt(static_cast<double>(s.d));
  spec.head_scale = 0.1;
  spec.bias_scale = 0;
  spec.nearest_neighbors = false;
  const TttProblem problem = make_ttt_problem(spec);
  const LinearHead& head = problem.head;
  const LocalFitData& data = problem.data;
  LocalFitConfig cfg;
  cfg.k = s.k;
  cfg.steps = s.steps;
  cfg.lr = 0.02;
  cfg.keep_heads = true;

  LocalFitData ref_data = data;
  ref_data.test_x = data.test_x.slice(0, 0, s.ref_points);
  ref_data.test_y = data.test_y.slice(0, 0, s.ref_points);
  ref_data.neighbors = data.neighbors.slice(0, 0, s.ref_points);

  auto t0 = std::chrono::steady_clock::now();
  const auto ref = local_fit_reference(head, ref_data, cfg);
  const double ref_ms = 1000 * seconds_since(t0) / static_cast<double>(s.ref_points);

  // The batch size decides whether the per-point state stays in cache: try a few memory budgets.
  LocalFitResult fast;
  double fast_ms = 1e30;
  int64_t best_budget_mb = 0;
  for (const int64_t budget_mb : {4, 16, 64, 512}) {
    cfg.memory_budget_bytes = budget_mb << 20;
    t0 = std::chrono::steady_clock::now();
    auto result = local_fit_batched(head, data, cfg);
    const double ms = 1000 * seconds_since(t0) / static_cast<double>(s.batched_points);
    fmt::print("    batched, {:>3} MB budget ({:>5} pts per batch): {:9.3f} ms/pt\n", budget_mb,
               local_fit_points_per_batch(s.c, s.d, s.k, 4, cfg), ms);
    if (ms < fast_ms) {
      fast_ms = ms;
      best_budget_mb = budget_mb;
      fast = std::move(result);
    }
  }
  cfg.memory_budget_bytes = best_budget_mb << 20;

  const auto w = fast.weights.slice(0, 0, s.ref_points);
  const double rel = max_relative_difference(w, ref.weights);
  const int64_t per_batch = local_fit_points_per_batch(s.c, s.d, s.k, 4, cfg);
  fmt::print(
      "C={:<5} d={:<4} k={:<4} T={:<4} | reference {:9.3f} ms/pt ({} pts) | batched {:8.3f} ms/pt "
      "({} pts, {} per batch) | speed-up {:6.1f}x | max rel diff {:.1e}\n",
      s.c, s.d, s.k, s.steps, ref_ms, s.ref_points, fast_ms, s.batched_points, per_batch, ref_ms / fast_ms, rel);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  set_progress_enabled(false);
  torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  fmt::print("bench_ttt_cpu: LibTorch {} threads\n", torch::get_num_threads());
  run({10, 50, 100, 100, 5000, quick ? 20 : 200, quick ? 200 : 2000});
  run({1000, 512, 50, 80, 5000, quick ? 1 : 4, quick ? 8 : 64});
  return 0;
}
