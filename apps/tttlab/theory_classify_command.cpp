// tttlab theory classify: global head vs TTT vs majority vote on classification worlds as d2/d1
// shrinks (Takeaway 1), with the run study (studies/study.hpp).
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/studies/theory/classification_worlds.hpp"

namespace tttlab::cli {

void add_classify_command(CLI::App* theory) {
  auto* cmd = theory->add_subcommand(
      "classify",
      "Global linear head vs TTT vs majority vote on classification worlds that differ only in d2\n"
      "(the study of `tttlab run` on each). Writes results.json and classify_{accuracy,gain}.png/svg.");
  auto cfg = std::make_shared<ClassifyConfig>();
  auto base = std::make_shared<std::string>(cfg->base.to_string());
  auto out = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(0);
  auto quiet = std::make_shared<bool>(false);
  auto no_plots = std::make_shared<bool>(false);
  StudyConfig& s = cfg->study;
  cmd->add_option("--world", *base, "Base classification world (its d2 is replaced by each --d2s value)")
      ->capture_default_str();
  cmd->add_option("--d2s", cfg->d2s, "Feature dimensions")->delimiter(',')->capture_default_str();
  cmd->add_option("--k", s.ttt.k, "TTT neighbours")->capture_default_str();
  cmd->add_option("--steps", s.ttt.steps, "TTT Adam steps")->capture_default_str();
  cmd->add_option("--lr", s.ttt.lr, "TTT Adam learning rate")->capture_default_str();
  cmd->add_option("--majority-k", s.majority_k, "Majority-vote neighbours (0 = --k)")->capture_default_str();
  cmd->add_option("--head-epochs", s.head_train.epochs, "Global head: epochs")->capture_default_str();
  cmd->add_option("--head-lr", s.head_train.lr, "Global head: Adam learning rate")->capture_default_str();
  cmd->add_option("--bootstrap", s.bootstrap.resamples, "Bootstrap resamples")->capture_default_str();
  add_seed_option(cmd, s.seed, "Seed of the head's training and the bootstrap");
  add_out_option(cmd, *out, "Output folder (results.json and plots)")->required();
  add_threads_option(cmd, *threads);
  add_quiet_flag(cmd, *quiet);
  cmd->add_flag("--no-plots", *no_plots, "Skip the gnuplot figures");
  cmd->callback([=] {
    set_progress_enabled(!*quiet);
    apply_threads(*threads);
    cfg->base = parse_lrh_spec(*base);
    const auto rows = run_classification_worlds(*cfg);
    write_classify_outputs(*out, *cfg, rows, !*no_plots);
    fmt::print("{:>6} {:>6} {:>8} | {:>8} {:>8} {:>8} {:>8} | {:>22}\n", "d1", "d2", "d2/d1", "global", "ttt",
               "majority", "oracle", "ttt - global [90% CI]");
    for (const auto& r : rows) {
      double acc[3] = {0, 0, 0};
      for (const auto& m : r.summary.methods) acc[m.name == "global" ? 0 : m.name == "ttt" ? 1 : 2] = m.accuracy;
      std::string gain;
      for (const auto& c : r.summary.comparisons)
        if (c.name == "ttt - global")
          gain = fmt::format("{:+.2f} [{:+.2f}, {:+.2f}]", 100 * c.accuracy_diff, 100 * c.ci.lo, 100 * c.ci.hi);
      fmt::print("{:>6} {:>6} {:>8.4f} | {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} | {:>22}\n", r.world.d1, r.world.d2,
                 static_cast<double>(r.world.d2) / r.world.d1, acc[0], acc[1], acc[2], r.oracle_accuracy, gain);
    }
    fmt::print("wrote {}/results.json\n", *out);
  });
}

}  // namespace tttlab::cli
