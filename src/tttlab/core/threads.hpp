#pragma once
// The CPU threads LibTorch and OpenMP (FAISS) compute with: what --threads N sets for every command
// and `threads=` for the Python package. 0 = every core; some LibTorch builds, Debian's among them,
// start with one intra-op thread, so it is always set explicitly.
#include <algorithm>
#include <thread>

#include <torch/torch.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "tttlab/core/error.hpp"

namespace tttlab {

inline void set_compute_threads(int threads) {
  require_input(threads >= 0, "--threads={} (expected >= 0; 0 = all cores)", threads);
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
}

}  // namespace tttlab
