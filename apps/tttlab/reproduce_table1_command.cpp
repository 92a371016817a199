// tttlab reproduce table1: the paper's section 3 (Table 1, O1-O3) on an embedding folder.
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/studies/table1.hpp"
#include "tttlab/studies/table1_report.hpp"

namespace tttlab::cli {

namespace {

struct Table1Options {
  Table1Config cfg;
  std::string out, sae_dir;
  int64_t memory_budget_mb = 0;
  int threads = 0;
  bool quiet = false, no_original = false, no_normalize = false;
};

void run(Table1Options& o) {
  set_progress_enabled(!o.quiet);
  apply_threads(o.threads);
  require_input(!o.out.empty(), "--out is required (the folder for results.json and the figures)");
  Table1Config& cfg = o.cfg;
  cfg.sae_dir = o.sae_dir;
  cfg.original_space = !o.no_original;
  cfg.normalize = !o.no_normalize;
  set_ttt_memory_budget(cfg.ttt, o.memory_budget_mb);
  cfg.sae.seed = cfg.seed;
  cfg.bootstrap.seed = cfg.seed;
  if (!o.quiet) fmt::print(stderr, "{}\n", version_line());
  const Table1Result r = run_table1(cfg, o.out);
  const Summary summary = summarize_table1(r, cfg.bootstrap);
  write_table1_outputs(o.out, cfg, r, summary);
  fmt::print("\n{}: {} train / {} test points, d2={} -> d1={} (k={}), {} classes, on {}\n", r.dataset_name, r.num_train,
             r.num_test, r.input_dim, r.latent_dim, r.sparsity, r.num_classes, r.device);
  fmt::print("SAE reconstruction: train FVE {:.4f}, test FVE {:.4f}\n\n", r.sae_quality.at("train_fve"),
             r.sae_quality.at("test_fve"));
  fmt::print("{}", table1_text(r, summary, cfg.bootstrap.level));
  // Repeated under the table: a Table 1 built on an unconverged SAE must not read as a result.
  for (const auto& w : r.warnings) fmt::print("{}\n", w);
  fmt::print("\nwrote {}/results.json and figures\n", o.out);
}

CLI::App* reproduce_command(CLI::App& app) {
  for (CLI::App* s : app.get_subcommands([](CLI::App*) { return true; })) {
    if (s->get_name() == "reproduce") return s;
  }
  auto* r = app.add_subcommand("reproduce", "The paper's experiments as recipes");
  r->require_subcommand(1);
  return r;
}

}  // namespace

void add_reproduce_table1_command(CLI::App& app) {
  auto o = std::make_shared<Table1Options>();
  Table1Config& c = o->cfg;
  auto* cmd = reproduce_command(app)->add_subcommand(
      "table1",
      "Section 3 of the paper on an embedding folder: trains a top-k SAE (or loads --sae), then global heads\n"
      "and TTT in the reconstructions Psi-hat and the concepts Phi-hat (Table 1), masked TTT (eq. 3) and the\n"
      "non-adaptive mask (O2), neighbourhood cosines (O1, Figure 2) and the agreement of Psi-hat TTT with\n"
      "masked Phi-hat TTT (O3, Figure 3). Defaults: the paper's ImageNet setting (E.3).");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("--data", c.data, "Embedding folder (npy:DIR)");
  add_preset_option(cmd, c.preset, "paper-imagenet-sae");
  add_out_option(cmd, o->out, "Output folder (results.json, figures, per-point .npy; the SAE in sae/)");
  cmd->add_option("--sae", o->sae_dir, "Use this trained SAE instead of training one");
  add_seed_option(cmd, c.seed, "Seed of the SAE, heads, test subset and bootstrap");
  add_threads_option(cmd, o->threads);
  add_device_option(cmd, c.device);
  add_quiet_flag(cmd, o->quiet);
  cmd->add_flag("--no-normalize", o->no_normalize,
                "Use the features as they are (default: scale every row to unit L2 norm, as the paper's CLIP "
                "embeddings; a given --sae must have been trained on the same)");
  cmd->add_option("--max-test", c.max_test, "Use a seeded random subset of this many test points (0 = all)")
      ->capture_default_str();

  const std::string s = "SAE (when training)";
  cmd->add_option("--sae-epochs", c.sae.epochs, "Epochs")->capture_default_str()->group(s);
  cmd->add_option("--sae-batch-size", c.sae.batch_size, "Minibatch size")->capture_default_str()->group(s);
  cmd->add_option("--sae-lr", c.sae.lr, "Peak learning rate")->capture_default_str()->group(s);
  cmd->add_option("--sae-warmup-steps", c.sae.warmup_steps, "Linear warm-up steps")->capture_default_str()->group(s);
  cmd->add_option("--sae-cosine-horizon", c.sae.cosine_horizon, "Cosine horizon (0 = the run's steps)")
      ->capture_default_str()
      ->group(s);
  cmd->add_option("--sae-latent-dim", c.sae.latent_dim, "d1 (0 = expansion x d2)")->capture_default_str()->group(s);
  cmd->add_option("--sae-expansion", c.sae.expansion, "d1 / d2")->capture_default_str()->group(s);
  cmd->add_option("--sae-k", c.sae.k, "s, active concepts per input")->capture_default_str()->group(s);
  cmd->add_option("--sae-k-start", c.sae.k_start, "k at step 0")->capture_default_str()->group(s);
  cmd->add_option("--sae-k-anneal-steps", c.sae.k_anneal_steps, "Steps of the k annealing")
      ->capture_default_str()
      ->group(s);
  cmd->add_option("--sae-dropout", c.sae.dropout, "Dropout on pre-activations")->capture_default_str()->group(s);
  cmd->add_option("--sae-ghost-weight", c.sae.ghost_weight, "Ghost loss weight (0 = off)")
      ->capture_default_str()
      ->group(s);
  cmd->add_option("--sae-dead-threshold", c.sae.dead_threshold, "Ghost loss for units at most this active")
      ->capture_default_str()
      ->group(s);
  cmd->add_option("--sae-dead-window", c.sae.dead_window, "Samples of the activity average (0 = since the start)")
      ->capture_default_str()
      ->group(s);
  cmd->add_option("--sae-grad-clip", c.sae.grad_clip, "Max gradient norm (0 = off)")->capture_default_str()->group(s);
  cmd->add_flag("--sae-pre-bias", c.sae.pre_bias, "Learn a pre-bias (init: data mean)")->group(s);

  const std::string h = "Global heads";
  add_head_train_options(cmd, c.head_train, h);

  const std::string t = "TTT";
  add_ttt_options(cmd, c.ttt, o->memory_budget_mb, t);
  cmd->add_flag("--no-original-space", o->no_original, "Skip the global head and TTT in Psi itself")->group(t);

  const std::string m = "Masked TTT (eq. 3)";
  cmd->add_option("--penalty", c.masked.penalty, "lambda of lambda ||m||^2 (ImageNet 0.2, MNIST 1e-3)")
      ->capture_default_str()
      ->group(m);
  cmd->add_option("--temperature", c.masked.temperature, "tau of the straight-through gradient sigmoid(theta/tau)")
      ->capture_default_str()
      ->group(m);
  cmd->add_option("--mask-init", c.masked.mask_init, "theta at the start (> 0: all concepts on)")
      ->capture_default_str()
      ->group(m);
  cmd->add_option("--masked-steps", c.masked_steps, "Adam steps (0 = --steps)")->capture_default_str()->group(m);
  cmd->add_option("--masked-lr", c.masked_lr, "Adam learning rate (0 = --lr)")->capture_default_str()->group(m);

  const std::string b = "Statistics";
  cmd->add_option("--top", c.top, "Ranks compared in O3")->capture_default_str()->group(b);
  cmd->add_option("--index", c.index,
                  "Neighbour search in Psi and Psi-hat: auto | faiss | torch (Phi-hat: always the exact sparse search)")
      ->capture_default_str()
      ->group(b);
  cmd->add_option("--bootstrap", c.bootstrap.resamples, "Bootstrap resamples")->capture_default_str()->group(b);
  cmd->callback([o] { run(*o); });
}

}  // namespace tttlab::cli
