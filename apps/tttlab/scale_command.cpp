// tttlab scale k|data|locality: the scaling studies (paper Section 4, E.4, Table 2) as resumable
// sweeps over seeds. Parsing and printing only; the studies live in src/tttlab/studies/scaling/.
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/studies/presets.hpp"
#include "tttlab/studies/scaling/studies.hpp"

namespace tttlab::cli {

namespace {

struct ScaleOptions {
  ScaleConfig scale;
  std::string out, mode = "erm";
  int threads = 0;
  bool quiet = false, no_plot = false;
  std::vector<int64_t> ks{5, 10, 20, 50, 100, 200, 500, 1000};
  std::vector<double> fractions{0.01, 0.03, 0.1, 0.3, 1.0};
  int64_t random_heads = 10;
  std::vector<int64_t> sizes{280, 600, 1268, 1976, 2985, 4430, 6386, 11770, 24294, 40818};
  std::vector<int64_t> widths{250, 500, 1000, 2000, 4000};
  MlpTrainOverride mlp_train;
  int64_t max_epochs = 0;
  std::vector<int64_t> experts{1, 3, 10, 30, 100, 300, 1000, 3000};
};

// Options every scale command shares; the defaults are the study's, set by the caller before.
// per_size: the study sets the model's training, the global head's and TTT's steps and lr from the
// paper's tables for every size, so those options are not offered (they would be ignored).
void add_common(CLI::App* cmd, ScaleOptions& o, bool per_size = false) {
  StudyConfig& c = o.scale.study;
  cmd->add_option("--data", c.data, "fashion-mnist | mnist | npy:DIR (embedding folder)")->capture_default_str();
  add_out_option(cmd, o.out, "Sweep folder: runs/<config>.json, tables (.csv/.json), figures (.png/.svg)")->required();
  cmd->add_option("--seeds", o.scale.seeds, "Seeds (network init, minibatches, subsamples, bootstrap)")
      ->capture_default_str()
      ->delimiter(',')
      ->expected(1, 1000);
  cmd->add_option("--bootstrap", o.scale.resamples_per_seed, "Bootstrap resamples of the test set per seed")
      ->capture_default_str();
  add_threads_option(cmd, o.threads);
  add_device_option(cmd, c.device);
  add_quiet_flag(cmd, o.quiet);
  cmd->add_flag("--no-plot", o.no_plot, "Tables only, no gnuplot figures");
  if (!per_size) add_preset_option(cmd, c.preset, c.preset);
  const std::string t = "TTT";
  cmd->add_option("--wd", c.ttt.weight_decay, "Adam weight decay (L2)")->capture_default_str()->group(t);
  cmd->add_option("--mode", o.mode, "erm | sequential")->capture_default_str()->group(t);
  cmd->add_option("--index", c.index, "Neighbour search: auto | faiss | torch")->capture_default_str()->group(t);
  if (per_size) return;
  cmd->add_option("--steps", c.ttt.steps, "Adam steps per test point")->capture_default_str()->group(t);
  cmd->add_option("--lr", c.ttt.lr, "Adam learning rate")->capture_default_str()->group(t);
  const std::string m = "Model (images)";
  cmd->add_option("--size-scale", c.size_scale, "FlexibleLeNet width multiplier")->capture_default_str()->group(m);
  cmd->add_option("--epochs", c.model_train.epochs, "Training epochs")->capture_default_str()->group(m);
  cmd->add_option("--batch-size", c.model_train.batch_size, "Minibatch size")->capture_default_str()->group(m);
  cmd->add_option("--train-lr", c.model_train.lr, "Adam learning rate")->capture_default_str()->group(m);
  const std::string h = "Global head (embedding folders)";
  cmd->add_option("--head-epochs", c.head_train.epochs, "Epochs")->capture_default_str()->group(h);
  cmd->add_option("--head-lr", c.head_train.lr, "Adam learning rate")->capture_default_str()->group(h);
}

void add_k_option(CLI::App* cmd, ScaleOptions& o) {
  cmd->add_option("--k", o.scale.study.ttt.k, "TTT neighbours")->capture_default_str()->group("TTT");
  cmd->add_option("--majority-k", o.scale.study.majority_k, "Majority-vote neighbours (0 = --k)")
      ->capture_default_str()
      ->group("TTT");
  // --tune: each configuration chooses its TTT and majority-vote settings on its own validation
  // split (a stratified hold-out of its training set), recorded in its runs/<id>.json.
  add_tune_options(cmd, o.scale.study.tune, o.scale.study.grid);
}

void prepare(ScaleOptions& o) {
  set_progress_enabled(!o.quiet);
  apply_threads(o.threads);
  o.scale.out = o.out;
  o.scale.plot = !o.no_plot;
  o.scale.study.ttt.mode = local_fit_mode_from_string(o.mode);
  if (!o.quiet) fmt::print(stderr, "{}\n", version_line());
}

void print_rows(const std::vector<SweepRow>& rows, const ScaleOptions& o, const std::string& name) {
  std::string last_x;
  for (const auto& r : rows) {
    const std::string x = r.x.empty() ? std::string("all") : r.x.dump();
    if (x != last_x) fmt::print("{}\n", x);
    last_x = x;
    const bool diff = r.metric.find(" - ") != std::string::npos;
    fmt::print("  {:<26} {:>7.2f}{}  [{:.2f}, {:.2f}]  ({} seeds)\n", r.metric, 100 * r.estimate.mean,
               diff ? " pp" : " % ", 100 * r.estimate.ci.lo, 100 * r.estimate.ci.hi, r.estimate.seeds);
  }
  fmt::print("\nwrote {0}/{1}.csv, {0}/{1}.json{2} (runs in {0}/runs)\n", o.out, name,
             o.scale.plot && name != "locality_table" ? fmt::format(", {}/{}.png/.svg", o.out, name) : "");
}

}  // namespace

void add_scale_command(CLI::App& app) {
  auto* scale = app.add_subcommand(
      "scale",
      "Scaling studies as resumable sweeps over seeds (90% CIs across seeds, 200 bootstrap resamples per "
      "seed):\n  model     network size (Figure 4)\n  k         neighbourhood size (Figure 5, right)\n  data      "
      "class-balanced fractions of the "
      "training set (Figure 5, left)\n  experts   mixture of experts (Figure 7)\n  locality  Table 2: global, TTT on "
      "the test point, TTT heads on their "
      "neighbourhoods, random TTT heads on the whole test set\nEvery configuration is saved in OUT/runs as "
      "it completes; rerunning the same command skips finished ones.");
  scale->require_subcommand(1);

  {  // k: Tables 3-5's TinyLeNet row besides the swept k
    auto o = std::make_shared<ScaleOptions>();
    apply_preset(study_preset("paper-table4-tinylenet"), o->scale.study);
    auto* cmd = scale->add_subcommand("k", "TTT and majority vote over the neighbourhood size k (Figure 5, right)");
    add_common(cmd, *o);
    cmd->add_option("--ks", o->ks, "Neighbourhood sizes")->capture_default_str()->delimiter(',')->expected(1, 1000);
    cmd->callback([o] {
      prepare(*o);
      print_rows(scale_k(o->scale, o->ks), *o, "scale_k");
    });
  }
  {  // data: E.4's TTT for Figure 5
    auto o = std::make_shared<ScaleOptions>();
    apply_preset(study_preset("paper-figure5-data"), o->scale.study);
    auto* cmd = scale->add_subcommand("data",
                                      "Global, majority vote and TTT on class-balanced fractions of the "
                                      "training set (Figure 5, left)");
    add_common(cmd, *o);
    add_k_option(cmd, *o);
    cmd->add_option("--fractions", o->fractions, "Fractions of the training set, in (0, 1]")
        ->capture_default_str()
        ->delimiter(',')
        ->expected(1, 1000);
    cmd->callback([o] {
      prepare(*o);
      print_rows(scale_data(o->scale, o->fractions), *o, "scale_data");
    });
  }
  {  // model: every size brings Tables 3-5's settings
    auto o = std::make_shared<ScaleOptions>();
    auto* cmd = scale->add_subcommand(
        "model",
        "Model size with the paper's per-size settings. Image data sets: FlexibleLeNet at Table 3's ten sizes "
        "(Figure 4, MNIST; training, TTT and majority vote from Tables 3-5). Embedding folders: two-layer MLP "
        "heads of the --widths (Table 7), then TTT of the last layer in the hidden space (Table 8: k = 100, "
        "lr 5e-3, 50 steps) and majority vote there (k = 10)");
    add_common(cmd, *o, /*per_size=*/true);
    cmd->add_option("--sizes", o->sizes, "Image data: parameter counts from Table 3")
        ->capture_default_str()
        ->delimiter(',')
        ->expected(1, 1000);
    cmd->add_option("--widths", o->widths,
                    "Embedding folders: hidden widths of the MLP head (Table 7 has 250..4000; other widths take "
                    "the nearest row's settings)")
        ->capture_default_str()
        ->delimiter(',')
        ->expected(1, 1000);
    cmd->add_option("--max-epochs", o->max_epochs,
                    "Cap on Table 3's (images) or Table 7's (MLP) training epochs "
                    "(0 = no cap)")
        ->capture_default_str();
    cmd->add_option("--mlp-lr", o->mlp_train.lr, "Embedding folders: MLP learning rate (0 = Table 7's per width)")
        ->capture_default_str();
    cmd->add_option("--mlp-batch", o->mlp_train.batch, "Embedding folders: MLP batch size (0 = Table 7's per width)")
        ->capture_default_str();
    cmd->callback([o] {
      prepare(*o);
      print_rows(scale_model(o->scale, o->sizes, o->max_epochs, o->widths, o->mlp_train), *o, "scale_model");
    });
  }
  {  // experts: Table 6's settings per number of experts; TTT as in `scale k`
    auto o = std::make_shared<ScaleOptions>();
    apply_preset(study_preset("paper-table4-tinylenet"), o->scale.study);
    auto* cmd = scale->add_subcommand("experts",
                                      "Mixture of experts (FAISS k-means, one fine-tuned head per centroid, "
                                      "Table 6) over the number of experts, beside global and TTT (Figure 7)");
    add_common(cmd, *o);
    add_k_option(cmd, *o);
    cmd->add_option("--experts", o->experts, "Numbers of experts (from Table 6; at most the training set's size)")
        ->capture_default_str()
        ->delimiter(',')
        ->expected(1, 1000);
    cmd->callback([o] {
      prepare(*o);
      print_rows(scale_experts(o->scale, o->experts), *o, "scale_experts");
    });
  }
  {  // locality: E.2's TTT protocol
    auto o = std::make_shared<ScaleOptions>();
    apply_preset(study_preset("paper-e2"), o->scale.study);
    auto* cmd = scale->add_subcommand("locality", "Table 2: is a TTT head local?");
    add_common(cmd, *o);
    add_k_option(cmd, *o);
    cmd->add_option("--random-heads", o->random_heads, "TTT heads evaluated on the whole test set")
        ->capture_default_str();
    cmd->callback([o] {
      prepare(*o);
      print_rows(locality_table(o->scale, o->random_heads), *o, "locality_table");
    });
  }
}

}  // namespace tttlab::cli
