#pragma once
// `tttlab sae recovery` as a library call: where the true concepts are known (a synthetic world), how
// well an SAE's dictionary recovered them, and whether the masks of `reproduce table1` (and the test
// points' own SAE units) pick the true active concepts.
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "tttlab/sae/concept_recovery.hpp"

namespace tttlab::studies {

struct SaeRecoveryConfig {
  std::string sae;              // SAE folder (sae.safetensors + sae.json)
  std::string true_concepts;    // .npy concept matrix, [T, d2] rows or [d2, T] columns
  std::string table1;           // optional: output folder of `reproduce table1`
  std::string true_test_codes;  // required with table1: .npy true codes of the test split [M, T]
  double min_cosine = 0.5;      // a unit maps to a true concept only at this cosine or above
};

struct SaeRecoveryResult {
  int64_t true_concepts = 0, latent_dim = 0, input_dim = 0;
  DictionaryRecovery dictionary;
  std::map<std::string, UnitRecovery> masks;  // "adaptive_mask", "test_point_units" (with table1 only)
};

// Every input is checked before the comparison (exit 2 on a mismatch, naming the file).
SaeRecoveryResult run_sae_recovery(const SaeRecoveryConfig& cfg);

nlohmann::json sae_recovery_json(const SaeRecoveryConfig& cfg, const SaeRecoveryResult& r);

// DIR/best_cosine.npy, DIR/best_unit.npy and, last, DIR/recovery.json (each atomically; creates DIR).
void write_sae_recovery(const std::filesystem::path& dir, const SaeRecoveryConfig& cfg, const SaeRecoveryResult& r);

}  // namespace tttlab::studies
