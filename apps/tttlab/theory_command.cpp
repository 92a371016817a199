// tttlab theory: the theory lab (paper §5, Appendices A.2, B, C) on synthetic linear-representation
// worlds. Subcommands: export (a world as an embedding folder with its true Φ), prop8, rate, classify.
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/data/lrh_world.hpp"
#include "tttlab/studies/theory/prop8.hpp"
#include "tttlab/studies/theory/theory_report.hpp"
#include "tttlab/studies/theory/ttt_rate.hpp"

namespace tttlab::cli {

namespace {

struct Common {
  std::string out;
  int threads = 0;
  bool quiet = false;
  bool no_plots = false;
};

void add_common(CLI::App* cmd, Common& c, bool plots = true,
                const std::string& out_help = "Output folder (results.json and plots)") {
  add_out_option(cmd, c.out, out_help)->required();
  add_threads_option(cmd, c.threads);
  add_quiet_flag(cmd, c.quiet);
  if (plots) cmd->add_flag("--no-plots", c.no_plots, "Skip the gnuplot figures (results.json only)");
}

void begin(const Common& c) {
  set_progress_enabled(!c.quiet);
  apply_threads(c.threads);
}

const char* kWorldHelp =
    "World spec: lrh:KEY=VALUE,... with keys d1 (concepts, 1024), d2 (features, 64), s (active concepts per\n"
    "point, 4), classes (>= 2, or 0 for regression; 10), topic_size (concepts per topic, 0 = 2s),\n"
    "in_topic (probability that an active concept comes from the point's topic, 1), noise (sigma: regression\n"
    "noise or logit noise, 0.1), train (10000), test (1000), seed (0). Psi = P Phi with P's columns uniform\n"
    "on the unit sphere; labels argmax(W* Phi + noise). The same spec works as `tttlab run --data lrh:...`.";

void add_export(CLI::App* theory) {
  auto* cmd = theory->add_subcommand("export", std::string("Write a world as an embedding folder, with its "
                                                           "true concepts Phi, P and W* beside it.\n") +
                                                   kWorldHelp);
  auto spec = std::make_shared<std::string>();
  auto c = std::make_shared<Common>();
  cmd->add_option("--world", *spec, "The world, e.g. lrh:d1=4096,d2=512,s=16,classes=100,seed=1")->required();
  add_common(cmd, *c, false,
             "Output folder: the world as an embedding folder (train/test features and labels) with its ground "
             "truth and world.json");
  cmd->callback([spec, c] {
    begin(*c);
    const LrhWorld world = make_lrh_world(parse_lrh_spec(*spec));
    export_lrh_world(world, c->out);
    fmt::print("{}: {} train / {} test points, d1={}, d2={}, {} topics\nwrote {}/world.json\n", world.spec.to_string(),
               world.spec.train, world.spec.test, world.spec.d1, world.spec.d2, world.spec.topics(), c->out);
  });
}

void add_prop8(CLI::App* theory) {
  auto* cmd = theory->add_subcommand(
      "prop8",
      "Proposition 8: the global least-squares error on the Definition 7 instance (d1 neighbourhoods,\n"
      "Phi = e_m, Psi = p_m uniform on the sphere, y = 1) against d2/d1, averaged over draws of P, beside\n"
      "the closed form 1 - d2/d1. Writes results.json (mean, standard error and z per grid point) and\n"
      "prop8.png/svg.");
  auto cfg = std::make_shared<Prop8Config>();
  auto c = std::make_shared<Common>();
  cmd->add_option("--d1", cfg->d1s, "Concept dimensions (comma-separated)")->delimiter(',')->capture_default_str();
  cmd->add_option("--d2", cfg->d2s, "Feature dimensions (default: 8, 16, ... up to d1, and d1)")->delimiter(',');
  cmd->add_option("--draws", cfg->draws, "Draws of P per grid point")->capture_default_str();
  add_seed_option(cmd, cfg->seed, "Seed");
  add_common(cmd, *c);
  cmd->callback([cfg, c] {
    begin(*c);
    const auto points = run_prop8(*cfg);
    write_prop8_outputs(c->out, *cfg, points, !c->no_plots);
    fmt::print("{:>6} {:>6} {:>8} {:>10} {:>10} {:>10} {:>7}\n", "d1", "d2", "d2/d1", "measured", "s.e.", "1-d2/d1",
               "z");
    for (const auto& p : points)
      fmt::print("{:>6} {:>6} {:>8.4f} {:>10.5f} {:>10.5f} {:>10.5f} {:>7.2f}\n", p.d1, p.d2,
                 static_cast<double>(p.d2) / p.d1, p.mean, p.std_error, p.closed_form, p.z());
    fmt::print("wrote {}/results.json\n", c->out);
  });
}

void add_rate(CLI::App* theory) {
  auto* cmd = theory->add_subcommand(
      "rate",
      "The TTT rate (Proposition 3): on regression worlds, error of min-norm local least squares and of\n"
      "the sparse estimator of eq. (6) (Lasso on the neighbours' concepts, its least-squares refit, and\n"
      "iterative hard thresholding keeping topic_size concepts),\n"
      "beside the global least-squares head and neighbour averaging, as k, s, d1 and sigma vary; fitted\n"
      "log-log slopes. Writes results.json and rate_<sweep>.png/svg.");
  auto cfg = std::make_shared<RateConfig>();
  auto c = std::make_shared<Common>();
  auto base = std::make_shared<std::string>(cfg->base.to_string());
  cmd->add_option("--world", *base, "Base regression world (classes=0; train/test are set per sweep)")
      ->capture_default_str();
  cmd->add_option("--sweeps", cfg->sweeps, "Which sweeps: k, s, d1, sigma")->delimiter(',')->capture_default_str();
  cmd->add_option("--ks", cfg->ks, "k values of the k sweep")->delimiter(',')->capture_default_str();
  cmd->add_option("--ss", cfg->ss, "s values of the s sweep (topic size 2s)")->delimiter(',')->capture_default_str();
  cmd->add_option("--d1s", cfg->d1s, "d1 values of the d1 sweep")->delimiter(',')->capture_default_str();
  cmd->add_option("--sigmas", cfg->sigmas, "noise values of the sigma sweep")->delimiter(',')->capture_default_str();
  cmd->add_option("--k-fixed", cfg->k_fixed, "k of the s, d1 and sigma sweeps")->capture_default_str();
  cmd->add_option("--train-per-topic", cfg->train_per_topic, "Training points per topic (0 = 4 x largest k)")
      ->capture_default_str();
  cmd->add_option("--test", cfg->test, "Test points per world")->capture_default_str();
  cmd->add_option("--slope-k-min", cfg->slope_k_min, "Fit the k slope on k >= this (0 = 2 x topic size)")
      ->capture_default_str();
  cmd->add_option("--lambda-scale", cfg->lambda_scale, "Lasso lambda = scale * sigma * sqrt(2 log(d1) / k)")
      ->capture_default_str();
  add_common(cmd, *c);
  cmd->callback([cfg, c, base] {
    begin(*c);
    cfg->base = parse_lrh_spec(*base);
    const RateResult result = run_ttt_rate(*cfg);
    write_rate_outputs(c->out, *cfg, result, !c->no_plots);
    fmt::print("{:>6} {:>6} {:>5} {:>3} {:>6} {:>5} {:>6} |", "sweep", "d1", "d2", "s", "sigma", "k", "topic%");
    for (const auto& m : rate_methods()) fmt::print(" {:>11}", m);
    fmt::print("\n");
    for (const auto& r : result.rows) {
      fmt::print("{:>6} {:>6} {:>5} {:>3} {:>6} {:>5} {:>6.1f} |", r.sweep, r.world.d1, r.world.d2, r.world.s,
                 r.world.noise, r.k, 100 * r.same_topic_neighbors);
      for (const auto& m : rate_methods()) fmt::print(" {:>11.4g}", r.errors.at(m).mean);
      fmt::print("\n");
    }
    for (const auto& f : result.fits)
      fmt::print("fit {:>6} {:>12}: {} slope {:.3f} +- {:.3f} ({} points)\n", f.sweep, f.method, f.x, f.slope,
                 f.slope_std_error, f.points);
    fmt::print("wrote {}/results.json\n", c->out);
  });
}

}  // namespace

void add_theory_command(CLI::App& app) {
  auto* theory = app.add_subcommand(
      "theory",
      std::string("The theory lab: synthetic linear-representation worlds and the paper's §5 claims.\n") + kWorldHelp);
  theory->require_subcommand(1);
  add_export(theory);
  add_prop8(theory);
  add_rate(theory);
  add_classify_command(theory);
}

}  // namespace tttlab::cli
