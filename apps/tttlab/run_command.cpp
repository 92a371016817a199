// tttlab run: the main job. Global head vs majority vote vs TTT on one data set, with bootstrap CIs,
// results.json and per-point predictions in --out.
#include <memory>

#include <fmt/format.h>
#include <torch/torch.h>

#include "commands.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/output_folder.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/studies/study.hpp"
#include "tttlab/studies/study_report.hpp"

namespace tttlab::cli {

namespace {

struct RunOptions {
  StudyConfig study;
  std::string mode = "erm";
  std::string out;
  std::string export_embeddings;
  std::string model_path, head_path;
  int64_t memory_budget_mb = 0;
  int threads = 0;
  bool quiet = false;
  bool save_probs = false;
  std::string config_file;  // consumed by expand_config_file before parsing; listed for --help
};

void run(RunOptions& o) {
  set_progress_enabled(!o.quiet);
  apply_threads(o.threads);
  require_input(!o.out.empty(), "--out is required (the folder for results.json)");
  if (!o.export_embeddings.empty()) require_output_folder(o.export_embeddings);
  StudyConfig& cfg = o.study;
  set_ttt_memory_budget(cfg.ttt, o.memory_budget_mb);
  cfg.ttt.mode = local_fit_mode_from_string(o.mode);
  cfg.model_path = o.model_path;
  cfg.head_path = o.head_path;
  cfg.bootstrap.seed = cfg.seed;

  if (!o.quiet) fmt::print(stderr, "{}\n", version_line());
  const StudyResult result = run_study(cfg);
  const Summary summary = summarize_study(result, cfg.bootstrap);
  write_study_outputs(o.out, cfg, result, summary, o.export_embeddings, o.save_probs);

  fmt::print("{}", study_report_text(result, summary, cfg.bootstrap.level));
  fmt::print("\nwrote {}/results.json ({:.1f} s in all)\n", o.out, result.timing.total());
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  StudyConfig& c = o->study;
  auto* cmd = app.add_subcommand(
      "run",
      "Global head vs majority vote vs TTT on one data set.\n"
      "Images (fashion-mnist, mnist): trains a FlexibleLeNet (or loads --model), embeds the images with\n"
      "its feature layer, and adapts its last layer. Embedding folders (npy:DIR): loads --head or trains\n"
      "a linear head. Writes results.json, per-point .npy files and the head to --out.\n"
      "Defaults: the preset 'default' (`tttlab presets`): Tables 3-5's TinyLeNet row (network: Adam lr 2e-3,\n"
      "batch 400, 100 epochs; TTT: k 50, 200 full-batch Adam steps, lr 1e-3; majority vote: k 6); a head on\n"
      "embeddings trains until its loss stops improving (patience 10, at most 1000 epochs). With --tune, TTT's\n"
      "and majority vote's settings are chosen on validation data instead.");
  // Every option keeps its last value: the config file's values come first, so flags override them.
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("--config", o->config_file,
                  "TOML file with any of these options (long names without dashes, e.g. k = 50); "
                  "flags on the command line override it");

  cmd->add_option("--data", c.data,
                  "fashion-mnist | mnist | npy:DIR (embedding folder) | npy:FILE.npz (the same arrays) | "
                  "lrh:d1=..,d2=..,s=..,classes=..,seed=.. "
                  "(a synthetic world: `tttlab theory --help`)")
      ->capture_default_str();
  add_out_option(cmd, o->out, "Output folder (results.json, pred_*.npy, head.safetensors, ...)");
  add_preset_option(cmd, c.preset, "default");
  add_tune_options(cmd, c.tune, c.grid);
  add_adaptive_options(cmd, c.adaptive, c.adaptive_holdouts, c.compare_fixed);
  add_seed_option(cmd, c.seed, "Seed of model init, minibatch order and bootstrap");
  add_threads_option(cmd, o->threads);
  add_device_option(cmd, c.device);
  add_quiet_flag(cmd, o->quiet);
  cmd->add_option("--export-embeddings", o->export_embeddings,
                  "Also write the features (train/test) as an embedding folder here");
  cmd->add_flag("--save-probs", o->save_probs,
                "Also write probs_<method>.npy (float32 [M, C] class probabilities) for global and TTT");

  const std::string m = "Model (images)";
  cmd->add_option("--model", o->model_path, "Load this FlexibleLeNet (safetensors) instead of training")->group(m);
  cmd->add_option("--size-scale", c.size_scale, "FlexibleLeNet width multiplier (0.5: 50 features)")
      ->capture_default_str()
      ->group(m);
  cmd->add_option("--epochs", c.model_train.epochs, "Training epochs")->capture_default_str()->group(m);
  cmd->add_option("--batch-size", c.model_train.batch_size, "Minibatch size")->capture_default_str()->group(m);
  cmd->add_option("--train-lr", c.model_train.lr, "Adam learning rate")->capture_default_str()->group(m);
  cmd->add_option("--patience", c.model_train.patience,
                  "Stop when the loss (validation loss when there is validation data) has not improved by 0.1% for "
                  "this many epochs; --epochs is then the maximum (0 = exactly --epochs epochs)")
      ->capture_default_str()
      ->group(m);

  const std::string h = "Global head (embedding folders)";
  cmd->add_option("--head", o->head_path, "Load this head (safetensors: weight [C,d], bias [C])")->group(h);
  add_head_train_options(cmd, c.head_train, h);

  const std::string t = "TTT";
  add_ttt_options(cmd, c.ttt, o->memory_budget_mb, t);
  cmd->add_option("--beta1", c.ttt.beta1, "Adam beta1")->capture_default_str()->group(t);
  cmd->add_option("--beta2", c.ttt.beta2, "Adam beta2")->capture_default_str()->group(t);
  cmd->add_option("--eps", c.ttt.eps, "Adam eps")->capture_default_str()->group(t);
  cmd->add_option("--mode", o->mode, "erm: full batch each step; sequential: step t uses neighbour t mod k")
      ->capture_default_str()
      ->group(t);
  cmd->add_flag("!--no-fused", c.ttt.fused,
                "On CUDA, use LibTorch's element-wise ops instead of the fused gradient + Adam kernel")
      ->group(t);

  const std::string b = "Baselines and statistics";
  cmd->add_option("--majority-k", c.majority_k, "Neighbours for majority vote (0 = --k)")
      ->capture_default_str()
      ->group(b);
  cmd->add_option("--index", c.index, "Neighbour search: auto | faiss | torch")->capture_default_str()->group(b);
  cmd->add_option("--bootstrap", c.bootstrap.resamples, "Bootstrap resamples for the CIs")
      ->capture_default_str()
      ->group(b);

  cmd->callback([o] { run(*o); });
}

}  // namespace tttlab::cli
