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

void add_head_train_options(CLI::App* cmd, TrainConfig& train, const std::string& group) {
  cmd->add_option("--head-epochs", train.epochs, "Epochs when training the head")->capture_default_str()->group(group);
  cmd->add_option("--head-batch-size", train.batch_size, "Minibatch size")->capture_default_str()->group(group);
  cmd->add_option("--head-lr", train.lr, "Adam learning rate")->capture_default_str()->group(group);
  cmd->add_option("--head-wd", train.weight_decay, "Adam weight decay")->capture_default_str()->group(group);
}

void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device,
                   "Where to compute: auto (CUDA when this build has it and a GPU is visible, else cpu), "
                   "cpu, cuda or cuda:N")
      ->capture_default_str();
}

}  // namespace tttlab::cli
