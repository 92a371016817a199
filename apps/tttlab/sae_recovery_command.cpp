// tttlab sae recovery: with known true concepts (a synthetic world), how well did the SAE recover
// them, and do the masks of `reproduce table1` pick the true active concepts?
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/sae/concept_recovery.hpp"
#include "tttlab/sae/top_k_sae.hpp"

namespace tttlab::cli {

namespace {

struct RecoveryOptions {
  std::string sae, concepts, table1, codes, out;
  double min_cosine = 0.5;
};

void run_recovery(const RecoveryOptions& o) {
  require_input(!o.sae.empty() && !o.concepts.empty() && !o.out.empty(), "--sae, --true-concepts and --out are required");
  require_input(o.min_cosine >= -1 && o.min_cosine <= 1, "--min-cosine={} (expected in [-1, 1])", o.min_cosine);
  const TopKSae sae = load_sae(o.sae);
  const auto a = concept_rows(read_npy(o.concepts), sae.input_dim(), o.concepts);
  const DictionaryRecovery d = dictionary_recovery(sae.decoder, a);
  nlohmann::json j{{"true_concepts", a.size(0)}, {"latent_dim", sae.latent_dim()}, {"input_dim", sae.input_dim()},
                   {"dictionary", {{"mean_best_cosine", d.mean}, {"median_best_cosine", d.median},
                                   {"share_above_0.9", d.share_above_0_9}, {"share_above_0.7", d.share_above_0_7}}}};
  fmt::print("{} true concepts, {} SAE units: best cosine mean {:.3f}, median {:.3f}; {:.1f}% above 0.9, {:.1f}% above 0.7\n",
             a.size(0), sae.latent_dim(), d.mean, d.median, 100 * d.share_above_0_9, 100 * d.share_above_0_7);
  std::filesystem::create_directories(o.out);
  write_npy(std::filesystem::path(o.out) / "best_cosine.npy", d.best_cosine);
  write_npy(std::filesystem::path(o.out) / "best_unit.npy", d.best_unit);
  if (!o.table1.empty()) {
    require_input(!o.codes.empty(), "--table1 needs --true-test-codes (the true concept codes of the test split)");
    const std::filesystem::path t1(o.table1);
    const auto rows = read_npy(t1 / "test_rows.npy").to(torch::kLong);
    const auto masks = read_npy(t1 / "o2_masks.npy");
    const auto own = read_npy(t1 / "o2_test_active.npy");
    const auto codes_all = read_npy(o.codes);
    require_input(codes_all.dim() == 2 && codes_all.size(1) == a.size(0) && rows.max().item<int64_t>() < codes_all.size(0),
                  "{}: expected true codes [M_test, {}], got a tensor of {} dimensions", o.codes, a.size(0), codes_all.dim());
    require_input(masks.dim() == 2 && masks.size(1) == sae.latent_dim() && masks.size(0) == rows.size(0),
                  "{}: masks do not match the SAE ({} units) or test_rows.npy", (t1 / "o2_masks.npy").string(),
                  sae.latent_dim());
    const auto codes = codes_all.index_select(0, rows);
    for (const auto& [name, units] : {std::pair{"adaptive_mask", masks}, std::pair{"test_point_units", own}}) {
      const UnitRecovery u = unit_recovery(units, d, codes, o.min_cosine);
      j["masks"][name] = {{"mean_precision", u.mean_precision}, {"mean_recall", u.mean_recall}};
      fmt::print("{}: precision {:.3f}, recall {:.3f} against the true active concepts (units with cosine >= {})\n",
                 name, u.mean_precision, u.mean_recall, o.min_cosine);
    }
    j["masks"]["min_cosine"] = o.min_cosine;
  }
  write_text_atomically(std::filesystem::path(o.out) / "recovery.json", j.dump(2) + "\n");
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
  cmd->add_option("--sae", o->sae, "SAE folder (sae.safetensors + sae.json)");
  cmd->add_option("--true-concepts", o->concepts, ".npy concept matrix, [T, d2] rows or [d2, T] columns");
  cmd->add_option("--table1", o->table1, "Output folder of `tttlab reproduce table1` (o2_masks.npy, test_rows.npy)");
  cmd->add_option("--true-test-codes", o->codes, ".npy true codes of the test split [M, T] (active = > 0)");
  cmd->add_option("--min-cosine", o->min_cosine, "Units mapped to a true concept only at this cosine or above")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Output folder (recovery.json, best_cosine.npy, best_unit.npy)");
  cmd->callback([o] { run_recovery(*o); });
}

}  // namespace tttlab::cli
