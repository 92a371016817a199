#pragma once
// Records what runs between start() and save() with LibTorch's Kineto profiler (CPU ops and CUDA
// kernels) as a Chrome trace; bench/trace_summary.py sums its kernels. Needs LibTorch 2.x; with
// LibTorch 1.x start() says so and save() writes nothing.
#include <cstdio>
#include <set>
#include <string>

#include <torch/torch.h>
#include <torch/version.h>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/autograd/profiler_kineto.h>
#endif

namespace tttlab::bench {

class KinetoTrace {
 public:
  // path empty: do nothing.
  explicit KinetoTrace(std::string path) : path_(std::move(path)) {}

  void start() {
    if (path_.empty()) return;
#if TORCH_VERSION_MAJOR >= 2
    namespace prof = torch::autograd::profiler;
    const std::set<prof::ActivityType> activities{prof::ActivityType::CPU, prof::ActivityType::CUDA};
    const prof::ProfilerConfig config(prof::ProfilerState::KINETO);
    prof::prepareProfiler(config, activities);
    prof::enableProfiler(config, activities);
    running_ = true;
#else
    std::fprintf(stderr, "profiling needs LibTorch 2.x; not profiling\n");
#endif
  }

  void save() {
#if TORCH_VERSION_MAJOR >= 2
    if (running_) torch::autograd::profiler::disableProfiler()->save(path_);
    running_ = false;
#endif
  }

 private:
  std::string path_;
  bool running_ = false;
};

}  // namespace tttlab::bench
