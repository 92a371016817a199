// Benchmark on a CUDA GPU (the TTT engine's GPU paths, docs/design.md), all in one run:
//   1. device-to-device copy bandwidth (the memory floor's denominator);
//   2. TTT at (C=1000, d=512, k=50, T=80): ms per test point for (i) the per-point reference loop
//      (autograd + torch::optim::Adam), (iii) the batched LibTorch path, (iv) the fused path; their
//      agreement; speed-ups over (ii), the PyTorch per-point script, when its time is given; and (iv)
//      as a fraction of the floor 16*C*d*T bytes / copy bandwidth;
//   3. exact k-NN, 1.23M x 512 unit vectors against 50,000 queries, k=50;
//   4. end to end: that k-NN plus fused TTT for all 50,000 queries;
//   5. the fused step's parts timed alone (logits product, softmax-delta, gradient + Adam; with W's
//      first moment stored and in row space), each as ms per point over T steps and bytes per second.
//   bench_ttt_cuda [--pytorch-ms X] [--quick] [--breakdown-only] [--profile trace.json]
// --profile: only the fused path on one batch of 2,048 points, recorded by Kineto (after a warm-up
// run) as a Chrome trace for bench/trace_summary.py, beside its wall time.
#include <chrono>
#include <cstring>
#include <string>

#include <ATen/Context.h>
#include <ATen/cuda/CUDAContext.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include "kineto_trace.hpp"
#include "tttlab/core/device.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/ttt/fused_step_kernels.hpp"
#include "tttlab/ttt/local_fit.hpp"
#include "tttlab/ttt/ttt_problem.hpp"

using namespace tttlab;

namespace {

const torch::Device kCuda(torch::kCUDA, 0);

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <typename F>
double timed(F&& f) {
  torch::cuda::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  f();
  torch::cuda::synchronize();
  return seconds_since(t0);
}

double copy_bandwidth() {
  const int64_t n = int64_t{1} << 29;  // 2 GiB of float32
  auto src = torch::rand({n}, torch::TensorOptions().device(kCuda));
  auto dst = torch::empty_like(src);
  dst.copy_(src);
  const int reps = 10;
  const double s = timed([&] {
    for (int r = 0; r < reps; ++r) dst.copy_(src);
  });
  return 2.0 * 4.0 * static_cast<double>(n) * reps / s;  // bytes read + written per second
}

// Labels from a random linear teacher, neighbours drawn at random, everything on the GPU.
TttProblem make_problem(int64_t n, int64_t m, int64_t d, int64_t c, int64_t k) {
  TttProblemSpec spec;
  spec.n = n;
  spec.m = m;
  spec.d = d;
  spec.c = c;
  spec.k = k;
  spec.seed = 0;
  spec.device = kCuda;
  spec.feature_scale = 1 / std::sqrt(static_cast<double>(d));
  spec.head_scale = 0.1;
  spec.bias_scale = 0;
  spec.teacher_labels = true;
  spec.nearest_neighbors = false;
  return make_ttt_problem(spec);
}

LocalFitData first_points(const LocalFitData& data, int64_t count) {
  LocalFitData few = data;
  few.test_x = data.test_x.slice(0, 0, count);
  few.test_y = data.test_y.slice(0, 0, count);
  few.neighbors = data.neighbors.slice(0, 0, count);
  return few;
}

void ttt_speed(double pytorch_ms, double bandwidth, bool quick) {
  const int64_t c = 1000, d = 512, k = 50, steps = 80;
  const int64_t ref_points = quick ? 5 : 30, points = quick ? 500 : 8000;
  const TttProblem p = make_problem(20000, points, d, c, k);
  LocalFitConfig cfg;
  cfg.k = k;
  cfg.steps = steps;
  cfg.lr = 0.02;
  cfg.device = kCuda;

  local_fit_reference(p.head, first_points(p.data, 2), cfg);  // warm-up (cuBLAS handles, allocator)
  const double ref_s = timed([&] { local_fit_reference(p.head, first_points(p.data, ref_points), cfg); });
  const double ref_ms = 1000 * ref_s / static_cast<double>(ref_points);

  // Steady state: each path runs once over all points before it is timed, so that the caching
  // allocator holds the batch's tensors (a long run allocates them once; the end-to-end timing
  // below includes that first allocation).
  LocalFitResult batched, fused;
  cfg.fused = false;
  local_fit_batched(p.head, p.data, cfg);
  const double batched_ms = 1000 * timed([&] { batched = local_fit_batched(p.head, p.data, cfg); }) / points;
  cfg.fused = true;
  local_fit_batched(p.head, p.data, cfg);
  const double fused_ms = 1000 * timed([&] { fused = local_fit_batched(p.head, p.data, cfg); }) / points;
  const int64_t per_batch = local_fit_points_per_batch(c, d, k, 4, cfg);
  // The same with smaller batches (the batch size only trades memory for launches).
  cfg.points_per_batch = 2048;
  const double fused_small_ms = 1000 * timed([&] { local_fit_batched(p.head, p.data, cfg); }) / points;
  cfg.points_per_batch = 0;

  // Agreement: predictions on every point; adapted heads on the first 32.
  const double pred_agree = fused.pred.eq(batched.pred).to(torch::kDouble).mean().item<double>();
  cfg.keep_heads = true;
  const auto heads_fused = local_fit_batched(p.head, first_points(p.data, 32), cfg);
  cfg.fused = false;
  const auto heads_batched = local_fit_batched(p.head, first_points(p.data, 32), cfg);
  const auto diff = heads_fused.weights - heads_batched.weights;
  const double max_rel = max_relative_difference(heads_fused.weights, heads_batched.weights);
  const double fro_rel = diff.norm().item<double>() / heads_batched.weights.norm().item<double>();

  const double floor_ms = 1000 * 16.0 * c * d * steps / bandwidth;
  fmt::print("\nTTT, C={} d={} k={} T={} lr=0.02 (float32, TF32 off)\n", c, d, k, steps);
  fmt::print("  (i)   reference per-point loop (LibTorch autograd + optim::Adam) {:9.3f} ms/pt  ({} pts)\n", ref_ms,
             ref_points);
  if (pytorch_ms > 0)
    fmt::print("  (ii)  PyTorch per-point script                                 {:9.3f} ms/pt\n", pytorch_ms);
  fmt::print("  (iii) batched LibTorch path                                    {:9.3f} ms/pt  ({} pts)\n", batched_ms,
             points);
  fmt::print("  (iv)  fused CUDA path                                          {:9.3f} ms/pt  ({} pts, {} per batch)\n",
             fused_ms, points, per_batch);
  fmt::print("  (iv)  fused CUDA path, 2048 points per batch                   {:9.3f} ms/pt\n", fused_small_ms);
  if (pytorch_ms > 0) {
    fmt::print("  speed-up over (ii): (i) {:.2f}x  (iii) {:.1f}x  (iv) {:.1f}x\n", pytorch_ms / ref_ms,
               pytorch_ms / batched_ms, pytorch_ms / fused_ms);
  }
  fmt::print(
      "  memory floor 16*C*d*T bytes at {:.0f} GB/s = {:.3f} ms/pt; (iv) runs at {:.0f}% of it ({:.2f}x the floor)\n",
      bandwidth / 1e9, floor_ms, 100 * floor_ms / fused_ms, fused_ms / floor_ms);
  fmt::print(
      "  (iv) vs (iii): predictions agree on {:.4f}% of {} pts; heads (32 pts): max rel diff {:.2e}, "
      "relative Frobenius diff {:.2e}\n",
      100 * pred_agree, points, max_rel, fro_rel);
}

void knn_and_end_to_end(bool quick) {
  const int64_t n = quick ? 123000 : 1230000, m = quick ? 5000 : 50000, d = 512, k = 50, c = 1000;
  torch::manual_seed(1);
  const auto opts = torch::TensorOptions().device(kCuda);
  auto unit = [](torch::Tensor x) { return x / x.norm(2, 1, true); };
  const auto train = unit(torch::randn({n, d}, opts));
  const auto queries = unit(torch::randn({m, d}, opts));

  knn_search(train.slice(0, 0, 10000), queries.slice(0, 0, 100), k, "torch", kCuda);  // warm-up
  KnnResult knn;
  const double knn_s = timed([&] { knn = knn_search(train, queries, k, "torch", kCuda); });

  // Exactness on 200 queries: float64 brute force over all training points.
  const auto q64 = queries.slice(0, 0, 200).to(torch::kDouble);
  const auto dist = torch::cdist(q64, train.to(torch::kDouble));
  const auto exact = std::get<1>(dist.topk(k, 1, /*largest=*/false, /*sorted=*/true));
  const double same = knn.indices.slice(0, 0, 200).eq(exact).to(torch::kDouble).mean().item<double>();
  fmt::print(
      "\nexact k-NN on the GPU: {} x {} training vectors, {} queries, k={}: {:.2f} s "
      "({:.1f} TFLOP/s of distance products); {:.2f}% of 200 queries' neighbour lists equal a float64 brute force\n",
      n, d, m, k, knn_s, 2.0 * n * m * d / knn_s / 1e12, 100 * same);

  // End to end: labels from a random linear teacher, the global head a noisy copy of it.
  const auto teacher = torch::randn({c, d}, opts);
  const auto train_y = train.matmul(teacher.t()).argmax(1);
  const auto test_y = queries.matmul(teacher.t()).argmax(1).cpu();
  const LinearHead head{teacher / 4 + torch::randn({c, d}, opts), torch::zeros({c}, opts)};
  LocalFitConfig cfg;
  cfg.k = k;
  cfg.steps = 80;
  cfg.lr = 0.02;
  cfg.device = kCuda;
  LocalFitResult ttt;
  const double ttt_s = timed([&] {
    ttt = local_fit_batched(head, {train, train_y, queries, test_y, knn.indices}, cfg);
  });
  const double global_acc = head.logits(queries).argmax(1).cpu().eq(test_y).to(torch::kDouble).mean().item<double>();
  const double ttt_acc = ttt.pred.eq(test_y).to(torch::kDouble).mean().item<double>();
  fmt::print(
      "end to end over {} test points: k-NN {:.2f} s + fused TTT {:.2f} s = {:.2f} s ({:.3f} ms/pt); "
      "accuracy global {:.2f}% -> TTT {:.2f}%\n",
      m, knn_s, ttt_s, knn_s + ttt_s, 1000 * (knn_s + ttt_s) / m, 100 * global_acc, 100 * ttt_acc);
}

// Each part of the fused step alone, T times over one batch, so that the sum shows where the time
// goes and each part's bytes per second shows how close it runs to the copy bandwidth.
void fused_breakdown(double bandwidth) {
  const int64_t bsz = 2048, c = 1000, d = 512, k = 50, steps = 80;
  torch::manual_seed(2);
  const auto opts = torch::TensorOptions().device(kCuda);
  auto w = 0.1 * torch::randn({bsz, c, d}, opts), w_m = torch::zeros_like(w), w_v = torch::zeros_like(w);
  auto b = torch::zeros({bsz, c}, opts), b_m = torch::zeros_like(b), b_v = torch::zeros_like(b);
  const auto x = torch::randn({bsz, k, d}, opts);
  const auto labels = torch::randint(c, {bsz, k}, opts.dtype(torch::kLong));
  auto logits = torch::empty({bsz, k, c}, opts);
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const cuda::AdamStepScalars s{0.02f, 1.f, 0.9f, 0.999f, 1e-8f, 0.f, 0.1f, 0.001f};
  auto gemm = [&] { torch::baddbmm_out(logits, b.unsqueeze(1), x, w.transpose(1, 2)); };
  auto m_coef = torch::zeros({bsz, k, c}, opts), m_coef_next = torch::zeros({bsz, k, c}, opts);
  auto softmax = [&] {
    cuda::launch_softmax_delta(logits.data_ptr<float>(), labels.data_ptr<int64_t>(), bsz, k, c, k, stream);
  };
  auto softmax_row_space = [&] {
    cuda::launch_softmax_delta(logits.data_ptr<float>(), labels.data_ptr<int64_t>(), bsz, k, c, k, stream,
                               m_coef.data_ptr<float>(), m_coef_next.data_ptr<float>(), s.beta1, s.one_minus_beta1);
  };
  auto adam = [&] {
    cuda::launch_grad_adam(logits.data_ptr<float>(), nullptr, x.data_ptr<float>(), k * d, w.data_ptr<float>(),
                           w_m.data_ptr<float>(), w_v.data_ptr<float>(), b.data_ptr<float>(), b_m.data_ptr<float>(),
                           b_v.data_ptr<float>(), bsz, k, c, d, s, stream);
  };
  auto adam_row_space = [&] {
    cuda::launch_grad_adam(logits.data_ptr<float>(), m_coef.data_ptr<float>(), x.data_ptr<float>(), k * d,
                           w.data_ptr<float>(), nullptr, w_v.data_ptr<float>(), b.data_ptr<float>(),
                           b_m.data_ptr<float>(), b_v.data_ptr<float>(), bsz, k, c, d, s, stream);
  };
  gemm(), softmax(), adam(), softmax_row_space(), adam_row_space();  // warm-up
  auto per_point_ms = [&](auto&& f) {
    return 1000 * timed([&] {
             for (int64_t t = 0; t < steps; ++t) f();
           }) /
           static_cast<double>(bsz);
  };
  const double gemm_ms = per_point_ms(gemm), softmax_ms = per_point_ms(softmax), adam_ms = per_point_ms(adam);
  const double softmax_rs_ms = per_point_ms(softmax_row_space), adam_rs_ms = per_point_ms(adam_row_space);
  const double head = static_cast<double>(c * d) * steps, rows = static_cast<double>(k * c) * steps;
  auto gbps = [](double bytes, double ms) { return bytes / (ms / 1000) / 1e9; };
  auto tflops = [&](double flop, double ms) { return flop / (ms / 1000) / 1e12; };
  fmt::print("\nfused step, parts alone ({} points, C={} d={} k={} T={}), ms per point; bytes counted once each way\n",
             bsz, c, d, k, steps);
  fmt::print("  logits product (cuBLAS baddbmm, reads W)        {:.3f} ms/pt  {:6.0f} GB/s  {:5.1f} TFLOP/s\n", gemm_ms,
             gbps(4 * head + 4 * rows, gemm_ms), tflops(2 * head * k, gemm_ms));
  fmt::print("  softmax - onehot (in place)                     {:.3f} ms/pt  {:6.0f} GB/s\n", softmax_ms,
             gbps(8 * rows, softmax_ms));
  fmt::print("  gradient + Adam (reads and writes W, m, v)      {:.3f} ms/pt  {:6.0f} GB/s  {:5.1f} TFLOP/s\n", adam_ms,
             gbps(24 * head + 4 * rows, adam_ms), tflops(2 * head * k, adam_ms));
  fmt::print("  sum {:.3f} ms/pt\n", gemm_ms + softmax_ms + adam_ms);
  fmt::print("  row space: softmax - onehot + m_coef update     {:.3f} ms/pt  {:6.0f} GB/s\n", softmax_rs_ms,
             gbps(16 * rows, softmax_rs_ms));
  fmt::print("  row space: gradient, m + Adam (W, v)            {:.3f} ms/pt  {:6.0f} GB/s  {:5.1f} TFLOP/s\n",
             adam_rs_ms, gbps(16 * head + 8 * rows, adam_rs_ms), tflops(4 * head * k, adam_rs_ms));
  fmt::print("  row-space sum {:.3f} ms/pt; copy bandwidth {:.0f} GB/s\n", gemm_ms + softmax_rs_ms + adam_rs_ms,
             bandwidth / 1e9);
}

// The fused path on one batch of 2,048 points, timed and recorded (kernels and their gaps).
void profile_fused(const std::string& path) {
  const int64_t points = 2048;
  const TttProblem p = make_problem(20000, points, 512, 1000, 50);
  LocalFitConfig cfg;
  cfg.k = 50;
  cfg.steps = 80;
  cfg.lr = 0.02;
  cfg.device = kCuda;
  local_fit_batched(p.head, p.data, cfg);  // warm-up
  const double plain_ms = 1000 * timed([&] { local_fit_batched(p.head, p.data, cfg); }) / points;
  bench::KinetoTrace trace(path);
  trace.start();
  const double traced_ms = 1000 * timed([&] { local_fit_batched(p.head, p.data, cfg); }) / points;
  trace.save();
  fmt::print("fused path, {} points in one batch: {:.3f} ms/pt ({:.3f} while traced); trace {}\n", points, plain_ms,
             traced_ms, path);
}

}  // namespace

int main(int argc, char** argv) {
  double pytorch_ms = 0;
  bool quick = false, breakdown_only = false;
  std::string profile;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0)
      quick = true;
    else if (std::strcmp(argv[i], "--breakdown-only") == 0)
      breakdown_only = true;
    else if (std::strcmp(argv[i], "--pytorch-ms") == 0 && i + 1 < argc)
      pytorch_ms = std::stod(argv[++i]);
    else if (std::strcmp(argv[i], "--profile") == 0 && i + 1 < argc)
      profile = argv[++i];
    else {
      fmt::print(stderr,
                 "usage: bench_ttt_cuda [--pytorch-ms X] [--quick] [--breakdown-only] [--profile trace.json]\n");
      return 2;
    }
  }
  if (!torch::cuda::is_available()) {
    fmt::print(stderr, "bench_ttt_cuda: no CUDA device\n");
    return 2;
  }
  set_progress_enabled(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  fmt::print("{} | {}\n", describe_device(kCuda), TTTLAB_VERSION);
  if (!profile.empty()) {
    profile_fused(profile);
    return 0;
  }
  const double bw = copy_bandwidth();
  fmt::print("device-to-device copy: {:.0f} GB/s (bytes read + written)\n", bw / 1e9);
  fused_breakdown(bw);
  if (breakdown_only) return 0;
  ttt_speed(pytorch_ms, bw, quick);
  knn_and_end_to_end(quick);
  return 0;
}
