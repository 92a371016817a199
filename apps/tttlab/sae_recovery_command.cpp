// tttlab sae recovery: with known true concepts (a synthetic world), how well did the SAE recover
// them, and do the masks of `reproduce table1` pick the true active concepts?
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/studies/sae_recovery.hpp"

namespace tttlab::cli {

namespace {

struct RecoveryOptions {
  studies::SaeRecoveryConfig cfg;
  std::string out;
};

void run_recovery(const RecoveryOptions& o) {
  require_input(!o.out.empty(), "--out is required");
  const studies::SaeRecoveryResult r = studies::run_sae_recovery(o.cfg);
  const DictionaryRecovery& d = r.dictionary;
  fmt::print(
      "{} true concepts, {} SAE units: best cosine mean {:.3f}, median {:.3f}; {:.1f}% above 0.9, {:.1f}% above 0.7\n",
      r.true_concepts, r.latent_dim, d.mean, d.median, 100 * d.share_above_0_9, 100 * d.share_above_0_7);
  for (const auto& [name, u] : r.masks) {
    fmt::print("{}: precision {:.3f}, recall {:.3f} against the true active concepts (units with cosine >= {})\n", name,
               u.mean_precision, u.mean_recall, o.cfg.min_cosine);
  }
  studies::write_sae_recovery(o.out, o.cfg, r);
  fmt::print("wrote {}/recovery.json\n", o.out);
}

}  // namespace

void add_sae_recovery_command(CLI::App& sae) {
  auto o = std::make_shared<RecoveryOptions>();
  auto* cmd = sae.add_subcommand(
      "recovery",
      "Where the true concepts are known (synthetic worlds): for each true concept direction the best cosine\n"
      "with a decoder column; with --table1 and --true-test-codes, the precision and recall of the learned\n"
      "masks (and of the test points' own SAE units) against the true active concepts.");
  cmd->add_option("--sae", o->cfg.sae, "SAE folder (sae.safetensors + sae.json)");
  cmd->add_option("--true-concepts", o->cfg.true_concepts, ".npy concept matrix, [T, d2] rows or [d2, T] columns");
  cmd->add_option("--table1", o->cfg.table1,
                  "Output folder of `tttlab reproduce table1` (o2_masks.npy, test_rows.npy)");
  cmd->add_option("--true-test-codes", o->cfg.true_test_codes,
                  ".npy true codes of the test split [M, T] (active = > 0)");
  cmd->add_option("--min-cosine", o->cfg.min_cosine, "Units mapped to a true concept only at this cosine or above")
      ->capture_default_str();
  add_out_option(cmd, o->out, "Output folder (recovery.json, best_cosine.npy, best_unit.npy)");
  cmd->callback([o] { run_recovery(*o); });
}

}  // namespace tttlab::cli
