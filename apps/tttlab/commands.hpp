#pragma once
// The CLI is a thin layer: each subcommand parses flags into a library config, calls the library,
// and prints. One file per subcommand.
#include <CLI/CLI.hpp>

#include "tttlab/train/global_train.hpp"

namespace tttlab::cli {

void add_run_command(CLI::App& app);
void add_model_command(CLI::App& app);
void add_lm_command(CLI::App& app);
void add_theory_command(CLI::App& app);  // theory_command.cpp
void add_classify_command(CLI::App* theory);  // theory_classify_command.cpp: `tttlab theory classify`
void add_sae_command(CLI::App& app);
void add_sae_recovery_command(CLI::App& sae);  // `sae recovery`, added by add_sae_command
void add_reproduce_table1_command(CLI::App& app);  // `reproduce table1` (creates `reproduce` if needed)
void add_scale_command(CLI::App& app);

// --threads N for LibTorch and OpenMP (FAISS); 0 keeps the library defaults (all cores).
void apply_threads(int threads);

// --head-epochs, --head-batch-size, --head-lr, --head-wd (a linear head trained with Adam) in `group`.
void add_head_train_options(CLI::App* cmd, TrainConfig& train, const std::string& group);

// --device auto|cpu|cuda[:N] into `device` (checked when the command runs: core/device.hpp).
void add_device_option(CLI::App* cmd, std::string& device);

}  // namespace tttlab::cli
