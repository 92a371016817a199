#pragma once
// The scaling studies of the paper's Section 4, each a resumable sweep (sweep.hpp) of `tttlab run`'s study
// (pipeline/study.hpp) over one parameter and several seeds, pooled into 90% CIs across seeds
// (seed_bootstrap.hpp), written as <out>/<name>.csv, <name>.json and a figure <name>.png/.svg:
//   scale_k          neighbourhood size k of TTT and majority vote (Figure 5, right)
//   scale_data       class-balanced fractions of the training set (Figure 5, left)
//   scale_model      network size (Figure 4, MNIST panel)
//   scale_experts    mixture of experts over the number of experts (Figure 7)
//   locality_table   Table 2: the global head; TTT on the test point; each TTT head on its own
//                    neighbourhood; ten random TTT heads on the whole test set
// Each configuration's result (per metric: test-set value and bootstrap resampled values) lands in
// <out>/runs/<id>.json as soon as it completes; a rerun skips those.
#include <cstdint>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "tttlab/studies/study.hpp"
#include "tttlab/studies/scaling/sweep_table.hpp"

namespace tttlab {

struct ScaleConfig {
  StudyConfig study;  // the base study: data, network, training, TTT, majority vote
  std::vector<uint64_t> seeds{0, 1, 2};
  int resamples_per_seed = 200;  // bootstrap resamples of the test set per seed (E.4)
  double level = 0.90;
  std::filesystem::path out;
  bool plot = true;  // figures with gnuplot (tables are always written)

  void validate() const;  // InputError on a bad value
};

// Checked before the first configuration runs: InputError when k neighbours cannot come from a
// training set of num_train rows; `what` names the setting, e.g. "--ks".
void require_neighbourhood_fits(int64_t k, int64_t num_train, const std::string& what);
// The most neighbours a study's configuration asks for: TTT's and majority vote's k, or with --tune
// the largest k of their grids.
int64_t neighbourhood_needed(const StudyConfig& study);

// The settings every configuration of a sweep shares (what sweep_settings.json pins).
nlohmann::json scale_settings_json(const ScaleConfig& cfg);

// One configuration's result from a study: metrics global, majority, ttt, "ttt - global",
// "majority - global" (accuracy and paired accuracy differences), plus sizes and timing.
nlohmann::json study_point_result(const StudyResult& result, int resamples, uint64_t bootstrap_seed);

std::vector<SweepRow> scale_k(const ScaleConfig& cfg, const std::vector<int64_t>& ks);
std::vector<SweepRow> scale_data(const ScaleConfig& cfg, const std::vector<double>& fractions);
// Image data sets: FlexibleLeNet at the sizes of Table 3 (by parameter count; each with Table 3's
// training, Table 4's TTT and Table 5's majority-vote settings); x of the rows: "parameters" (the
// paper's count). Embedding folders: scale_mlp_widths over `widths`. max_epochs > 0 caps the
// tables' epochs (a reduced CPU grid).
// Table 7's training settings for the MLP heads, or these where set (for data unlike CLIP's ImageNet).
struct MlpTrainOverride {
  double lr = 0;      // > 0: instead of Table 7's learning rate
  int64_t batch = 0;  // > 0: instead of Table 7's batch size
};
std::vector<SweepRow> scale_model(const ScaleConfig& cfg, const std::vector<int64_t>& sizes, int64_t max_epochs = 0,
                                  const std::vector<int64_t>& widths = {250, 500, 1000, 2000, 4000},
                                  const MlpTrainOverride& mlp_train = {});
// Two-layer MLP heads of these hidden widths on the embeddings (Table 7's training for the nearest
// width in the table), then global (the MLP), TTT of its last layer on the k = 100 nearest hidden
// vectors (Table 8) and majority vote (k = 10) in its hidden space; x of the rows: "hidden".
std::vector<SweepRow> scale_mlp_widths(const ScaleConfig& cfg, const Dataset& data, const std::vector<int64_t>& widths,
                                       int64_t max_epochs = 0, const MlpTrainOverride& mlp_train = {});
// Mixture of experts (E.5) with Table 6's settings for each number of experts, beside global and TTT.
std::vector<SweepRow> scale_experts(const ScaleConfig& cfg, const std::vector<int64_t>& experts);
std::vector<SweepRow> locality_table(const ScaleConfig& cfg, int64_t random_heads = 10);

// Table 2's per-point columns for one study run with keep_heads: the head adapted to test point i
// evaluated on i's own k nearest training points (fraction correct), and the mean over
// `random_heads` heads (test points drawn with a seeded generator) of whether each classifies test
// point j correctly. Returns {"neighbourhood": [M], "global ttt": [M]} as double tensors.
std::pair<torch::Tensor, torch::Tensor> locality_columns(const StudyResult& result, int64_t k, int64_t random_heads,
                                                         uint64_t seed);

}  // namespace tttlab
