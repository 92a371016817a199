// --threads (LibTorch's intra-op threads and OpenMP's, for FAISS) and --device: the options every
// computing command shares.
#include <algorithm>
#include <thread>

#include <torch/torch.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "commands.hpp"
#include "tttlab/core/error.hpp"

namespace tttlab::cli {

void apply_threads(int threads) {
  require_input(threads >= 0, "--threads={} (expected >= 0; 0 = all cores)", threads);
  // Some LibTorch builds (Debian's among them) start with one intra-op thread: set it explicitly.
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
}

void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device,
                   "Where to compute: auto (CUDA when this build has it and a GPU is visible, else cpu), "
                   "cpu, cuda or cuda:N")
      ->capture_default_str();
}

}  // namespace tttlab::cli
