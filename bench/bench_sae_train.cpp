// SAE training speed (docs/sae.md): one epoch of the E.3 recipe (d1 = 8 d2, batch 4096, k annealing from
// 128, dropout 0.5, ghost loss, grad clip, unit-norm decoder) on random unit vectors, timed per epoch
// and per step, on the CPU or a GPU. With --pytorch-s X (seconds per epoch of bench/sae_pytorch.py,
// the straightforward PyTorch implementation, on the same machine and sizes) it prints the ratio.
//   bench_sae_train [--device cpu|cuda] [--rows N] [--dim D] [--epochs E] [--pytorch-s X]
//   bench_sae_train --decode-sweep 1 [--device cuda] [--dim D]: the two decoders' time per k
// Defaults: the ImageNet size, 1,281,167 x 512 (CPU: pass e.g. --rows 40000 --dim 64). An epoch's
// seconds include its end-of-epoch metrics (eval on 8,192 rows), as the trainer logs them.
// With TTTLAB_PROFILE=trace.json (LibTorch 2.x) the whole run is recorded by the Kineto profiler as a
// Chrome trace; bench/trace_summary.py sums its GPU kernels, to set beside bench/sae_pytorch.py --profile.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <ftw.h>
#include <unistd.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include "kineto_trace.hpp"
#include "tttlab/core/device.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/sae/sae_train.hpp"

using namespace tttlab;

namespace {

// Forward + backward of the two decoders (top_k_sae.hpp) on one batch of 4,096 rows, per k: where
// decode_sparse should switch from the gather to the dense product.
void sweep_decode(int64_t dim, torch::Device device) {
  const int64_t rows = 4096, latent = 8 * dim, reps = 20;
  TopKSae sae = init_sae(dim, latent, 16, true, 0);
  sae.decoder = sae.decoder.to(device).set_requires_grad(true);
  const auto pre = torch::randn({rows, latent}, torch::TensorOptions().device(device));
  const auto target = torch::randn({rows, dim}, torch::TensorOptions().device(device));
  auto sync = [&] {
    if (device.is_cuda()) (void)pre.sum().item<float>();
  };
  fmt::print("decode forward + backward, {} rows, d2 {} d1 {}, ms per step\n  k     gather   dense\n", rows, dim,
             latent);
  for (int64_t k : {16, 32, 48, 64, 80, 96, 112, 128}) {
    double ms[2];
    for (int gather = 0; gather < 2; ++gather) {
      auto codes = top_k_codes(pre, k, true);
      codes.values = codes.values.detach().set_requires_grad(true);
      auto step = [&] {
        const auto out = gather ? decode_gather(sae, codes) : decode_dense(sae, codes);
        (out - target).pow(2).mean().backward();
      };
      step();
      sync();
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r) step();
      sync();
      ms[gather] = 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    }
    fmt::print("  {:3d} {:8.3f} {:8.3f}\n", k, ms[1], ms[0]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "auto";
  int64_t rows = 1281167, dim = 512, epochs = 1;
  double pytorch_s = 0;
  bool decode_sweep = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--device")
      device_name = argv[i + 1];
    else if (a == "--rows")
      rows = std::atoll(argv[i + 1]);
    else if (a == "--dim")
      dim = std::atoll(argv[i + 1]);
    else if (a == "--epochs")
      epochs = std::atoll(argv[i + 1]);
    else if (a == "--pytorch-s")
      pytorch_s = std::atof(argv[i + 1]);
    else if (a == "--decode-sweep")
      decode_sweep = std::atoll(argv[i + 1]) != 0;
    else {
      fmt::print(stderr, "unknown option {}\n", a);
      return 2;
    }
  }
  const torch::Device device = resolve_device(device_name);
  set_progress_enabled(false);
  if (decode_sweep) {
    sweep_decode(dim, device);
    return 0;
  }
  torch::manual_seed(0);
  auto x = torch::randn({rows, dim});
  x.div_(x.norm(2, {1}, true));
  SaeConfig cfg;  // E.3 defaults
  cfg.epochs = epochs;
  cfg.eval_rows = 8192;
  const auto out = std::filesystem::temp_directory_path() / fmt::format("tttlab-bench-sae-{}", ::getpid());
  SaeTrainOptions opts;
  opts.out_dir = out;
  opts.device = device;
  const char* trace_path = std::getenv("TTTLAB_PROFILE");
  bench::KinetoTrace trace(trace_path ? trace_path : "");
  trace.start();
  const auto t0 = std::chrono::steady_clock::now();
  const SaeTrainResult r = train_sae(x, cfg, opts);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  trace.save();
  // POSIX nftw, not std::filesystem::remove_all: PyTorch's libtorch.so exports its own copy of the
  // latter, which crashed on the GPU machine (see tests/test_support.hpp).
  ::nftw(
      out.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
      FTW_DEPTH | FTW_PHYS);
  // With several epochs, s_per_epoch is the mean over the epochs after the first (cuBLAS and the
  // allocator warmed up), as in bench/sae_pytorch.py.
  double steady_s = 0;
  std::string epoch_s;
  for (size_t e = 0; e < r.history.size(); ++e) {
    epoch_s += fmt::format(" {:.3f}", r.history[e].seconds);
    if (e > 0 || r.history.size() == 1) steady_s += r.history[e].seconds;
  }
  const auto steady_epochs = static_cast<double>(r.history.size() > 1 ? r.history.size() - 1 : 1);
  const int64_t steps_per_epoch = r.history.front().step;
  fmt::print("device {}\nrows {} dim {} latent {} batch {} epochs {} steps {}\n", describe_device(device), rows, dim,
             cfg.latent_for(dim), cfg.batch_size, epochs, r.history.back().step);
  fmt::print(
      "epoch_s{}\ns_per_epoch {:.3f}\nms_per_step {:.3f}\ntotal_s {:.3f} (incl. data transfer, checkpoints, eval)\n",
      epoch_s, steady_s / steady_epochs, 1e3 * steady_s / steady_epochs / static_cast<double>(steps_per_epoch), total);
  fmt::print("final eval_mse {:.6g} fve {:.4f} dead {:.2f}%\n", r.history.back().eval_mse, r.history.back().eval_fve,
             100 * r.history.back().dead_share);
  std::string ghost_steps;
  for (const auto& m : r.history) ghost_steps += fmt::format(" {}", m.ghost_steps);
  fmt::print("ghost_steps{}\n", ghost_steps);
  if (pytorch_s > 0) {
    fmt::print("pytorch_s_per_epoch {:.3f}\nspeedup_vs_pytorch {:.2f}x\n", pytorch_s,
               pytorch_s / (steady_s / steady_epochs));
  }
  return 0;
}
