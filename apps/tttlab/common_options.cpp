// The options several commands share: --threads (LibTorch's intra-op threads and OpenMP's, for
// FAISS), --device, the global head's training and TTT's.
#include <fmt/format.h>
#include <torch/torch.h>

#include "commands.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/output_folder.hpp"
#include "tttlab/core/threads.hpp"

namespace tttlab::cli {

void apply_threads(int threads) { set_compute_threads(threads); }

CLI::Option* add_out_option(CLI::App* cmd, std::string& out, const std::string& what) {
  // Checked while the command line is parsed, before any work: an existing file, or a folder that
  // cannot be created or written, would otherwise fail only when the results are written.
  return cmd->add_option("--out", out, what)
      ->check(CLI::Validator([](std::string& path) { return output_folder_problem(path); }, "FOLDER", "output folder"));
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
  cmd->add_option("--head-patience", train.patience,
                  "Stop when the loss (validation loss if there is a val split) has not improved by 0.1% for this "
                  "many epochs; --head-epochs is then the maximum (0 = exactly --head-epochs epochs)")
      ->capture_default_str()
      ->group(group);
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

CLI::Option* add_preset_option(CLI::App* cmd, std::string& preset, const std::string& default_preset) {
  return cmd->add_option("--preset", preset,
                         fmt::format("Start from one of the paper's protocols (`tttlab presets` lists them; the config "
                                     "file and flags override its values; default: {})",
                                     default_preset));
}

void add_adaptive_options(CLI::App* cmd, bool& adaptive, int64_t& holdouts, bool& compare_fixed) {
  const std::string g = "Selection on validation";
  cmd->add_flag("--compare-fixed", compare_fixed,
                "With --tune: also run TTT at the settings before tuning ('ttt_fixed'), for a paired 'ttt - ttt_fixed'")
      ->group(g);
  cmd->add_flag("--adaptive", adaptive,
                "Also 'ttt_adaptive': every test point picks its own (k, steps) from the --tune-k x --tune-steps grid "
                "by leave-one-out on its own neighbourhood (at --lr, or the tuned lr with --tune)")
      ->group(g);
  cmd->add_option("--adaptive-holdouts", holdouts, "Nearest neighbours held out one at a time to score a (k, steps)")
      ->capture_default_str()
      ->group(g);
}

void add_tune_options(CLI::App* cmd, bool& tune, SelectionGrid& grid) {
  const std::string g = "Selection on validation";
  cmd->add_flag("--tune", tune,
                "Choose TTT's k, steps and lr and majority vote's k on validation data, never on test: the val_* "
                "split of an embedding folder, else a stratified hold-out of train (--tune-holdout), and the model, "
                "head and index then use the rest. The steps grid always holds 0 (TTT = the global head)")
      ->group(g);
  cmd->add_option("--tune-k", grid.ks, "Grid of TTT's k")->delimiter(',')->capture_default_str()->group(g);
  cmd->add_option("--tune-steps", grid.steps, "Grid of TTT's steps (0 is added)")
      ->delimiter(',')
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--tune-lr", grid.lrs, "Grid of TTT's lr")->delimiter(',')->capture_default_str()->group(g);
  cmd->add_option("--tune-majority-k", grid.majority_ks, "Grid of majority vote's k")
      ->delimiter(',')
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--tune-points", grid.max_points, "Validation points scored (a seeded subset when there are more)")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--tune-holdout", grid.holdout_fraction,
                  "Without a val split: the fraction of train held out (stratified by class, seeded by --seed)")
      ->capture_default_str()
      ->group(g);
}

}  // namespace tttlab::cli
