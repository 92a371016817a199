#pragma once
// The CLI is a thin layer: each subcommand parses flags into a library config, calls the library,
// and prints. One file per subcommand.
#include <CLI/CLI.hpp>

#include "tttlab/selection/grid_search.hpp"
#include "tttlab/train/global_train.hpp"
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab::cli {

void add_run_command(CLI::App& app);
void add_model_command(CLI::App& app);
void add_lm_command(CLI::App& app);
void add_lm_pretrain_command(CLI::App* lm);  // lm_pretrain_command.cpp: `tttlab lm pretrain`
void add_theory_command(CLI::App& app);       // theory_command.cpp
void add_classify_command(CLI::App* theory);  // theory_classify_command.cpp: `tttlab theory classify`
void add_sae_command(CLI::App& app);
void add_sae_recovery_command(CLI::App& sae);      // `sae recovery`, added by add_sae_command
void add_reproduce_table1_command(CLI::App& app);  // `reproduce table1` (creates `reproduce` if needed)
void add_scale_command(CLI::App& app);
void add_presets_command(CLI::App& app);  // `tttlab presets`: the paper's protocols and their values
void add_embed_command(CLI::App& app);    // `tttlab embed`: texts -> sentence-encoder embedding folder

// --threads N for LibTorch and OpenMP (FAISS); 0 keeps the library defaults (all cores).
void apply_threads(int threads);

// The options most commands share are registered by these functions and nowhere else, so each flag
// has one name, one meaning and one default everywhere. `what` says what the folder receives or the
// seed seeds in that command; each returns the option for further settings (->required(), ...).
CLI::Option* add_out_option(CLI::App* cmd, std::string& out, const std::string& what);
CLI::Option* add_threads_option(CLI::App* cmd, int& threads);  // --threads N (0 = all cores)
CLI::Option* add_quiet_flag(CLI::App* cmd, bool& quiet);       // --quiet: no progress bars
template <class Seed>
CLI::Option* add_seed_option(CLI::App* cmd, Seed& seed, const std::string& what) {
  return cmd->add_option("--seed", seed, what)->capture_default_str();
}

// --head-epochs, --head-batch-size, --head-lr, --head-wd, --head-patience (a linear head trained with
// Adam) in `group`.
void add_head_train_options(CLI::App* cmd, TrainConfig& train, const std::string& group);

// --k, --steps, --lr, --wd, --points-per-batch and --memory-budget-mb (TTT of each test point's head
// on its neighbours) in `group`; set_ttt_memory_budget turns the last into ttt.memory_budget_bytes.
void add_ttt_options(CLI::App* cmd, LocalFitConfig& ttt, int64_t& memory_budget_mb, const std::string& group);
void set_ttt_memory_budget(LocalFitConfig& ttt, int64_t memory_budget_mb);  // exit 2 when negative

// --device auto|cpu|cuda[:N] into `device` (checked when the command runs: core/device.hpp).
void add_device_option(CLI::App* cmd, std::string& device);

// --preset NAME (studies/presets.hpp), recorded in `preset`; main() expands it into the preset's
// option values before the config file's and the flags. `default_preset` names the command's own.
CLI::Option* add_preset_option(CLI::App* cmd, std::string& preset, const std::string& default_preset);

// --tune and its grid (--tune-k, --tune-steps, --tune-lr, --tune-majority-k, --tune-points,
// --tune-holdout; in TOML a [tune] table) in the group "Selection on validation".
void add_tune_options(CLI::App* cmd, bool& tune, SelectionGrid& grid);
// --adaptive and --adaptive-holdouts (per-point choice of k and steps, selection/adaptive.hpp), and
// --compare-fixed (with --tune, TTT at the untuned settings too).
void add_adaptive_options(CLI::App* cmd, bool& adaptive, int64_t& holdouts, bool& compare_fixed);

}  // namespace tttlab::cli
