#pragma once
// Classification worlds (Takeaway 1): the study of `tttlab run` (global linear head vs majority vote vs TTT,
// pipeline/study.hpp) on linear-representation worlds that differ only in the feature dimension d2,
// so d2/d1 measures how underparameterised the features are. The paper expects TTT's gain over the
// global head to grow as d2/d1 shrinks.
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "tttlab/data/lrh_world.hpp"
#include "tttlab/eval/summary.hpp"
#include "tttlab/studies/study.hpp"

namespace tttlab {

struct ClassifyConfig {
  LrhWorldSpec base = default_base();
  std::vector<int64_t> d2s{8, 16, 32, 64, 128, 256, 512, 1024, 2048};
  StudyConfig study = default_study();  // data is set per world
  void validate() const;
  static LrhWorldSpec default_base();
  static StudyConfig default_study();
};

struct ClassifyRow {
  LrhWorldSpec world;
  Summary summary;
  double oracle_accuracy = 0;  // argmax of the noiseless logits W*·Φ: the best any method can expect
  double seconds = 0;
};

std::vector<ClassifyRow> run_classification_worlds(const ClassifyConfig& cfg);

nlohmann::json classify_json(const ClassifyConfig& cfg, const std::vector<ClassifyRow>& rows);

// Draws classify_accuracy.{png,svg} and classify_gain.{png,svg} (unless !plots), then results.json.
void write_classify_outputs(const std::filesystem::path& dir, const ClassifyConfig& cfg,
                            const std::vector<ClassifyRow>& rows, bool plots);

}  // namespace tttlab
