// tttlab sae train | encode: a top-k sparse autoencoder on an embedding folder (paper section 3,
// Appendix E.3), and its concept vectors Phi-hat and reconstructions Psi-hat.
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/sae/sae_dataset.hpp"
#include "tttlab/sae/sae_train.hpp"

namespace tttlab::cli {

namespace {

struct SaeTrainOptionsCli {
  std::string data, out, device = "auto";
  SaeConfig cfg;
  bool resume = false, quiet = false, normalize = false;
  int64_t stop_after_epochs = 0;
  int threads = 0;
  // Each option that sets a field of SaeConfig, with the field's key in SaeConfig::to_json().
  std::vector<std::pair<const CLI::Option*, std::string>> config_options;
  const CLI::Option* normalize_option = nullptr;
};

// --resume takes the settings from the checkpoint, so that only --data and --out need repeating.
// A setting given again must equal the checkpoint's: a different one would not continue that run.
void adopt_checkpoint_settings(SaeTrainOptionsCli& o) {
  const auto saved = read_checkpoint_settings(o.out);
  if (!saved) return;  // nothing to resume: a fresh run with the flags given
  const std::string ckpt = (std::filesystem::path(o.out) / "checkpoint.safetensors").string();
  const nlohmann::json given = o.cfg.to_json(), kept = saved->config.to_json();
  for (const auto& [option, key] : o.config_options) {
    if (option->count() == 0 || given.at(key) == kept.at(key)) continue;
    throw_input_error(
        "{} {}: the checkpoint {} was trained with {}={}; --resume continues its settings (leave {} out, "
        "or start afresh in another --out)",
        option->get_name(), given.at(key).dump(), ckpt, key, kept.at(key).dump(), option->get_name());
  }
  const auto normalized = saved->extra.find("input_normalized");
  if (normalized != saved->extra.end() && normalized->is_boolean()) {
    require_input(!(o.normalize_option->count() > 0 && !normalized->get<bool>()),
                  "--normalize: the checkpoint {} was trained on raw features; --resume continues its settings "
                  "(leave --normalize out, or start afresh in another --out)",
                  ckpt);
    o.normalize = normalized->get<bool>();
  }
  o.cfg = saved->config;
}

Dataset load_feature_data(const std::string& spec) {
  require_input(!spec.empty(), "--data is required (an embedding folder: npy:DIR)");
  Dataset data = load_dataset(spec);
  require_input(!data.is_images,
                "--data {}: the SAE needs feature vectors, not images (write them with "
                "`tttlab run --data {} --export-embeddings DIR`, then use --data npy:DIR)",
                spec, spec);
  return data;
}

void run_train(SaeTrainOptionsCli& o) {
  set_progress_enabled(!o.quiet);
  apply_threads(o.threads);
  require_input(!o.out.empty(), "--out is required (the folder for the SAE and its checkpoints)");
  if (o.resume) adopt_checkpoint_settings(o);
  const torch::Device device = resolve_device(o.device);
  Dataset data = load_feature_data(o.data);
  if (o.normalize) normalize_rows_(data);
  SaeTrainOptions opts;
  opts.extra = {{"input_normalized", o.normalize}};
  opts.out_dir = o.out;
  opts.resume = o.resume;
  opts.stop_after_epochs = o.stop_after_epochs;
  opts.device = device;
  const SaeTrainResult r = train_sae(data.train.x, o.cfg, opts);
  const int64_t d2 = data.train.x.size(1);
  fmt::print("SAE on {} ({} rows, d2={} -> d1={}, k={}) on {}\n", data.name, data.train.size(), d2,
             o.cfg.latent_for(d2), o.cfg.k, describe_device(device));
  if (!r.history.empty()) {
    const auto& m = r.history.back();
    fmt::print("epoch {}/{}: eval MSE {:.6g}, FVE {:.4f}, dead {:.2f}%, near-dead {:.2f}%\n", m.epoch, o.cfg.epochs,
               m.eval_mse, m.eval_fve, 100 * m.dead_share, 100 * m.near_dead_share);
  }
  if (r.finished) {
    fmt::print("wrote {}/sae.safetensors and sae.json\n", o.out);
  } else {
    fmt::print("stopped after epoch {} of {}; continue with --resume\n", r.history.size(), o.cfg.epochs);
  }
}

struct SaeEncodeOptionsCli {
  std::string sae, data, out, device = "auto";
  bool quiet = false, normalize = false;
  int threads = 0;
};

void run_encode(const SaeEncodeOptionsCli& o) {
  set_progress_enabled(!o.quiet);
  apply_threads(o.threads);
  require_input(!o.sae.empty(), "--sae is required (a folder written by `tttlab sae train`)");
  require_input(!o.out.empty(), "--out is required");
  const torch::Device device = resolve_device(o.device);
  const TopKSae sae = load_sae(o.sae);
  Dataset data = load_feature_data(o.data);
  const bool normalize = o.normalize || sae_input_normalized(o.sae).value_or(false);
  if (normalize) normalize_rows_(data);
  const DatasetEncoding enc = encode_dataset(sae, data, device);
  const nlohmann::json j = write_dataset_encoding(o.out, sae, data, enc);
  for (const auto& [split, s] : j["splits"].items()) {
    fmt::print("{}: {} rows, MSE {:.6g}, FVE {:.4f}, {:.2f} active concepts on average\n", split,
               s["rows"].get<int64_t>(), s["mse"].get<double>(), s["fve"].get<double>(),
               s["mean_active"].get<double>());
  }
  fmt::print("wrote {}/concepts (Phi-hat), {}/reconstructions (Psi-hat), {}/encode.json\n", o.out, o.out, o.out);
}

}  // namespace

void add_sae_command(CLI::App& app) {
  auto* sae = app.add_subcommand("sae", "Top-k sparse autoencoders on embeddings (paper section 3, E.3)");
  sae->require_subcommand(1);

  auto t = std::make_shared<SaeTrainOptionsCli>();
  SaeConfig& c = t->cfg;
  auto* train = sae->add_subcommand(
      "train",
      "Train a top-k SAE on the training features of an embedding folder. Defaults are the paper's E.3 recipe.\n"
      "Writes sae.safetensors + sae.json (the model), checkpoint.safetensors (every --checkpoint-every epochs)\n"
      "and train_log.txt (MSE, FVE, dead and near-dead units per epoch) to --out.");
  train->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  train->add_option("--data", t->data, "Embedding folder (npy:DIR) whose train_features.npy is used");
  add_out_option(train, t->out, "Output folder");
  train->add_flag("--resume", t->resume,
                  "Continue from --out/checkpoint.safetensors with the settings stored in it (settings given again "
                  "must match them)");
  train
      ->add_option("--stop-after-epochs", t->stop_after_epochs,
                   "Stop after this many epochs in this call, checkpointed (0 = run to the end)")
      ->capture_default_str();
  // Options that set a SaeConfig field are recorded with its key, for --resume's comparison.
  auto knob = [t](CLI::Option* option, const char* key) {
    t->config_options.emplace_back(option, key);
    return option;
  };
  knob(add_seed_option(train, c.seed, "Seed of the init, shuffles and dropout"), "seed");
  add_threads_option(train, t->threads);
  add_device_option(train, t->device);
  add_quiet_flag(train, t->quiet);
  t->normalize_option =
      train->add_flag("--normalize", t->normalize,
                      "Scale every feature row to unit L2 norm first (as `reproduce table1` does by default)");
  const std::string s = "Shape";
  knob(train->add_option("--latent-dim", c.latent_dim, "d1 (0 = --expansion x input width)"), "latent_dim")
      ->capture_default_str()
      ->group(s);
  knob(train->add_option("--expansion", c.expansion, "d1 / d2 when --latent-dim is 0"), "expansion")
      ->capture_default_str()
      ->group(s);
  knob(train->add_option("--k", c.k, "s: active concepts per input"), "k")->capture_default_str()->group(s);
  knob(train->add_option("--k-start", c.k_start, "k at step 0, lowered linearly to --k"), "k_start")
      ->capture_default_str()
      ->group(s);
  knob(train->add_option("--k-anneal-steps", c.k_anneal_steps, "Steps of the k annealing (0 = none)"), "k_anneal_steps")
      ->capture_default_str()
      ->group(s);
  knob(train->add_flag("!--no-relu", c.relu, "Keep negative top-k values (default: only positive ones)"), "relu")
      ->group(s);
  knob(train->add_flag("--pre-bias", c.pre_bias, "Learn a pre-bias b (init: data mean): encode x - b, decode + b"),
       "pre_bias")
      ->group(s);
  const std::string op = "Optimisation";
  knob(train->add_option("--epochs", c.epochs, "Epochs"), "epochs")->capture_default_str()->group(op);
  knob(train->add_option("--batch-size", c.batch_size, "Minibatch size"), "batch_size")
      ->capture_default_str()
      ->group(op);
  knob(train->add_option("--lr", c.lr, "Peak Adam learning rate"), "lr")->capture_default_str()->group(op);
  knob(train->add_option("--warmup-steps", c.warmup_steps, "Linear warm-up steps"), "warmup_steps")
      ->capture_default_str()
      ->group(op);
  knob(train->add_option("--cosine-horizon", c.cosine_horizon, "Cosine decay horizon T in steps (0 = the run's steps)"),
       "cosine_horizon")
      ->capture_default_str()
      ->group(op);
  knob(train->add_option("--beta1", c.beta1, "Adam beta1"), "beta1")->capture_default_str()->group(op);
  knob(train->add_option("--beta2", c.beta2, "Adam beta2"), "beta2")->capture_default_str()->group(op);
  knob(train->add_option("--eps", c.eps, "Adam eps"), "eps")->capture_default_str()->group(op);
  knob(train->add_option("--wd", c.weight_decay, "Adam weight decay"), "weight_decay")
      ->capture_default_str()
      ->group(op);
  knob(train->add_option("--grad-clip", c.grad_clip, "Max gradient norm (0 = off)"), "grad_clip")
      ->capture_default_str()
      ->group(op);
  knob(train->add_option("--dropout", c.dropout, "Dropout on pre-activations"), "dropout")
      ->capture_default_str()
      ->group(op);
  knob(train->add_option("--ghost-weight", c.ghost_weight, "Weight of the ghost-gradient loss (0 = off)"),
       "ghost_weight")
      ->capture_default_str()
      ->group(op);
  knob(train->add_option("--dead-threshold", c.dead_threshold,
                         "Units active in at most this share of samples get the ghost loss"),
       "dead_threshold")
      ->capture_default_str()
      ->group(op);
  knob(train->add_option("--dead-window", c.dead_window,
                         "Samples over which a unit's activation frequency is measured for --dead-threshold: an "
                         "exponential moving average over about the last N (0 = every sample since the start)"),
       "dead_window")
      ->capture_default_str()
      ->group(op);
  knob(train->add_option("--checkpoint-every", c.checkpoint_every, "Epochs between checkpoints"), "checkpoint_every")
      ->capture_default_str();
  knob(train->add_option("--eval-rows", c.eval_rows, "Training rows scored after each epoch (0 = all)"), "eval_rows")
      ->capture_default_str();
  train->callback([t] { run_train(*t); });

  auto e = std::make_shared<SaeEncodeOptionsCli>();
  auto* encode = sae->add_subcommand(
      "encode",
      "Encode every split of an embedding folder with a trained SAE. Writes Phi-hat sparsely\n"
      "(--out/concepts/<split>_indices.npy int64 [N,s], <split>_values.npy float32 [N,s], <split>_labels.npy),\n"
      "the reconstructions Psi-hat as an embedding folder (--out/reconstructions) and --out/encode.json.");
  encode->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  encode->add_option("--sae", e->sae, "SAE folder (sae.safetensors + sae.json)");
  encode->add_option("--data", e->data, "Embedding folder (npy:DIR)");
  add_out_option(encode, e->out, "Output folder");
  add_threads_option(encode, e->threads);
  add_device_option(encode, e->device);
  add_quiet_flag(encode, e->quiet);
  encode->add_flag("--normalize", e->normalize,
                   "Scale every row to unit L2 norm first (automatic for an SAE trained with --normalize)");
  encode->callback([e] { run_encode(*e); });
  add_sae_recovery_command(*sae);
}

}  // namespace tttlab::cli
