#pragma once
// The CLI is a thin layer: each subcommand parses flags into a library config, calls the library,
// and prints. One file per subcommand.
#include <CLI/CLI.hpp>

namespace tttlab::cli {

void add_run_command(CLI::App& app);
void add_model_command(CLI::App& app);
void add_lm_command(CLI::App& app);
void add_scale_command(CLI::App& app);

// --threads N for LibTorch and OpenMP (FAISS); 0 keeps the library defaults (all cores).
void apply_threads(int threads);

// --device auto|cpu|cuda[:N] into `device` (checked when the command runs: core/device.hpp).
void add_device_option(CLI::App* cmd, std::string& device);

}  // namespace tttlab::cli
