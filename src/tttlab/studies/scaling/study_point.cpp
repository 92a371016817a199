// What the scaling studies share: validation, the settings fingerprint, and one study's result as
// a sweep point.
#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/studies/scaling/studies.hpp"
#include "tttlab/studies/study_report.hpp"

namespace tttlab {

using nlohmann::json;

void ScaleConfig::validate() const {
  require_input(!seeds.empty(), "--seeds: at least one seed");
  for (size_t i = 0; i < seeds.size(); ++i) {
    for (size_t j = 0; j < i; ++j) require_input(seeds[i] != seeds[j], "--seeds: seed {} appears twice", seeds[i]);
  }
  require_input(resamples_per_seed >= 1, "--bootstrap={} (expected >= 1 resamples per seed)", resamples_per_seed);
  require_input(level > 0 && level < 1, "CI level {} (expected in (0, 1))", level);
  require_input(!out.empty(), "--out is required (the sweep's folder)");
  study.ttt.validate();
  require_input(study.majority_k >= 0, "--majority-k={} (expected >= 1, or 0 for the TTT k)", study.majority_k);
}

void require_neighbourhood_fits(int64_t k, int64_t num_train, const std::string& what) {
  require_input(k <= num_train, "{}: k={} is larger than the training set (N={})", what, k, num_train);
}

int64_t neighbourhood_needed(const StudyConfig& s) {
  if (!s.tune) return std::max(s.ttt.k, s.effective_majority_k());
  int64_t k = 0;
  for (int64_t v : s.grid.ks) k = std::max(k, v);
  for (int64_t v : s.grid.majority_ks) k = std::max(k, v);
  return k;
}

json scale_settings_json(const ScaleConfig& cfg) {
  const auto& s = cfg.study;
  return {{"data", s.data},
          {"preset", s.preset},
          {"size_scale", s.size_scale},
          {"model_train", train_config_json(s.model_train)},
          {"head_train", train_config_json(s.head_train)},
          {"ttt", ttt_settings_json(s.ttt)},
          {"majority_k", s.majority_k},
          {"tune", s.tune ? nlohmann::json{{"k", s.grid.ks},
                                           {"steps", s.grid.steps_with_zero()},
                                           {"lr", s.grid.lrs},
                                           {"majority_k", s.grid.majority_ks},
                                           {"points", s.grid.max_points},
                                           {"holdout", s.grid.holdout_fraction}}
                          : nlohmann::json(false)},
          {"index", s.index},
          {"bootstrap", {{"resamples_per_seed", cfg.resamples_per_seed}, {"level", cfg.level}}},
          {"tttlab_version", TTTLAB_VERSION}};
}

json study_point_result(const StudyResult& r, int resamples, uint64_t bootstrap_seed) {
  std::map<std::string, torch::Tensor> correct_of;
  for (const auto& m : r.methods) correct_of[m.name] = correct(m.pred, r.test_labels);
  const auto& g = correct_of.at("global");
  json j;
  j["metrics"] = metrics_json({{"global", g},
                               {"majority", correct_of.at("majority")},
                               {"ttt", correct_of.at("ttt")},
                               {"ttt - global", correct_of.at("ttt") - g},
                               {"majority - global", correct_of.at("majority") - g}},
                              resamples, bootstrap_seed);
  if (r.selection) {  // --tune: what this configuration chose on its validation split
    const auto& c = r.selection->chosen_ttt;
    j["selection"] = {{"ttt", {{"k", c.k}, {"steps", c.steps}, {"lr", c.lr}, {"val_accuracy", c.accuracy}}},
                      {"majority_k", r.selection->chosen_majority.k},
                      {"split", r.selection->split}};
  }
  for (const auto& m : r.methods) {
    if (m.ce.defined()) j["mean_ce"][m.name] = tttlab::mean(m.ce);
  }
  j["num_train"] = r.num_train;
  j["num_test"] = r.num_test;
  j["dim"] = r.dim;
  if (r.model) j["parameters"] = r.model->shape().parameter_count();
  json timing = json::object();
  for (const auto& [stage, sec] : r.timing.seconds) timing[stage + "_s"] = sec;
  j["timing"] = timing;
  j["device"] = r.device;
  return j;
}

}  // namespace tttlab
