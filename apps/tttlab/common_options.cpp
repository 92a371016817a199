// The options several commands share: --threads (LibTorch's intra-op threads and OpenMP's, for
// FAISS), --device, the global head's training and TTT's.
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

CLI::Option* add_out_option(CLI::App* cmd, std::string& out, const std::string& what) {
  return cmd->add_option("--out", out, what);
}

CLI::Option* add_threads_option(CLI::App* cmd, int& threads) {
  return cmd->add_option("--threads", threads, "CPU threads (0 = all cores)")->capture_default_str();
}

CLI::Option* add_quiet_flag(CLI::App* cmd, bool& quiet) { return cmd->add_flag("--quiet", quiet, "No progress bars"); }

void add_head_train_options(CLI::App* cmd, TrainConfig& train, const std::string& group) {
  cmd->add_option("--head-epochs", train.epochs, "Epochs when training the head")->capture_default_str()->group(group);
  cmd->add_option("--head-batch-size", train.batch_size, "Minibatch size")->capture_default_str()->group(group);
  cmd->add_option("--head-lr", train.lr, "Adam learning rate")->capture_default_str()->group(group);
  cmd->add_option("--head-wd", train.weight_decay, "Adam weight decay")->capture_default_str()->group(group);
}

void add_ttt_options(CLI::App* cmd, LocalFitConfig& ttt, int64_t& memory_budget_mb, const std::string& group) {
  cmd->add_option("--k", ttt.k, "Neighbours per test point")->capture_default_str()->group(group);
  cmd->add_option("--steps", ttt.steps, "Adam steps per test point")->capture_default_str()->group(group);
  cmd->add_option("--lr", ttt.lr, "Adam learning rate")->capture_default_str()->group(group);
  cmd->add_option("--wd", ttt.weight_decay, "Adam weight decay (L2)")->capture_default_str()->group(group);
  cmd->add_option("--points-per-batch", ttt.points_per_batch, "Test points trained at once (0 = from memory budget)")
      ->capture_default_str()
      ->group(group);
  cmd->add_option("--memory-budget-mb", memory_budget_mb,
                  "Memory for one batch of test points (0 = automatic: 16 MB on the CPU, 70% of free GPU memory)")
      ->capture_default_str()
      ->group(group);
}

void set_ttt_memory_budget(LocalFitConfig& ttt, int64_t memory_budget_mb) {
  require_input(memory_budget_mb >= 0, "--memory-budget-mb={} (expected >= 0; 0 = automatic)", memory_budget_mb);
  ttt.memory_budget_bytes = memory_budget_mb << 20;
}

void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device,
                  "Where to compute: auto (CUDA when this build has it and a GPU is visible, else cpu), "
                  "cpu, cuda or cuda:N")
      ->capture_default_str();
}

}  // namespace tttlab::cli
