#include "tttlab/studies/sae_recovery.hpp"

#include <utility>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/sae/top_k_sae.hpp"

namespace tttlab::studies {

namespace fs = std::filesystem;

SaeRecoveryResult run_sae_recovery(const SaeRecoveryConfig& cfg) {
  require_input(!cfg.sae.empty() && !cfg.true_concepts.empty(), "--sae and --true-concepts are required");
  require_input(cfg.min_cosine >= -1 && cfg.min_cosine <= 1, "--min-cosine={} (expected in [-1, 1])", cfg.min_cosine);
  require_input(cfg.table1.empty() || !cfg.true_test_codes.empty(),
                "--table1 needs --true-test-codes (the true concept codes of the test split)");
  const TopKSae sae = load_sae(cfg.sae);
  const auto a = concept_rows(read_npy(cfg.true_concepts), sae.input_dim(), cfg.true_concepts);
  SaeRecoveryResult r;
  r.true_concepts = a.size(0);
  r.latent_dim = sae.latent_dim();
  r.input_dim = sae.input_dim();
  r.dictionary = dictionary_recovery(sae.decoder, a);
  if (cfg.table1.empty()) return r;

  const fs::path t1(cfg.table1);
  const auto rows = read_npy(t1 / "test_rows.npy").to(torch::kLong);
  const auto masks = read_npy(t1 / "o2_masks.npy");
  const auto own = read_npy(t1 / "o2_test_active.npy");
  const auto codes_all = read_npy(cfg.true_test_codes);
  require_input(
      codes_all.dim() == 2 && codes_all.size(1) == a.size(0) && rows.max().item<int64_t>() < codes_all.size(0),
      "{}: expected true codes [M_test, {}], got a tensor of {} dimensions", cfg.true_test_codes, a.size(0),
      codes_all.dim());
  require_input(masks.dim() == 2 && masks.size(1) == sae.latent_dim() && masks.size(0) == rows.size(0),
                "{}: masks do not match the SAE ({} units) or test_rows.npy", (t1 / "o2_masks.npy").string(),
                sae.latent_dim());
  const auto codes = codes_all.index_select(0, rows);
  for (const auto& [name, units] : {std::pair{"adaptive_mask", masks}, std::pair{"test_point_units", own}}) {
    r.masks[name] = unit_recovery(units, r.dictionary, codes, cfg.min_cosine);
  }
  return r;
}

nlohmann::json sae_recovery_json(const SaeRecoveryConfig& cfg, const SaeRecoveryResult& r) {
  const DictionaryRecovery& d = r.dictionary;
  nlohmann::json j{{"true_concepts", r.true_concepts},
                   {"latent_dim", r.latent_dim},
                   {"input_dim", r.input_dim},
                   {"dictionary",
                    {{"mean_best_cosine", d.mean},
                     {"median_best_cosine", d.median},
                     {"share_above_0.9", d.share_above_0_9},
                     {"share_above_0.7", d.share_above_0_7}}}};
  if (!r.masks.empty()) {
    for (const auto& [name, u] : r.masks) {
      j["masks"][name] = {{"mean_precision", u.mean_precision}, {"mean_recall", u.mean_recall}};
    }
    j["masks"]["min_cosine"] = cfg.min_cosine;
  }
  return j;
}

void write_sae_recovery(const fs::path& dir, const SaeRecoveryConfig& cfg, const SaeRecoveryResult& r) {
  fs::create_directories(dir);
  write_npy(dir / "best_cosine.npy", r.dictionary.best_cosine);
  write_npy(dir / "best_unit.npy", r.dictionary.best_unit);
  write_text_atomically(dir / "recovery.json", sae_recovery_json(cfg, r).dump(2) + "\n");
}

}  // namespace tttlab::studies
