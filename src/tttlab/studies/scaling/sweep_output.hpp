#pragma once
// Pieces the scaling studies share: a trained network cached per seed in <out>/models (so a sweep
// that does not change the network trains it once per seed), and the end of every sweep (pool the
// seeds, write the tables, draw the figure).
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tttlab/studies/study.hpp"
#include "tttlab/studies/scaling/plot.hpp"
#include "tttlab/studies/scaling/studies.hpp"
#include "tttlab/studies/scaling/sweep.hpp"

namespace tttlab {

class CachedModel {
 public:
  void save_if_trained(const StudyResult& result) const;  // atomically, when the study trained it

 private:
  friend CachedModel use_cached_model(const std::filesystem::path&, const Dataset&, StudyConfig&);
  std::filesystem::path path_;  // empty: nothing to cache (features data, or a --model given)
  bool exists_ = false;
};

// For image data without --model: points cfg.model_path at <dir>/models/seed=S.safetensors when a
// previous configuration saved it there.
CachedModel use_cached_model(const std::filesystem::path& dir, const Dataset& data, StudyConfig& cfg);

// Pools the runs over seeds, writes <out>/<name>.csv/.json, and (cfg.plot) <out>/<name>.png/.svg;
// a plotting failure is reported on stderr and leaves the tables in place.
std::vector<SweepRow> finish_sweep(const ScaleConfig& cfg, const SweepStore& store, const std::vector<SweepRun>& runs,
                                   const nlohmann::json& settings, const std::string& name, const SweepPlotSpec& plot);

}  // namespace tttlab
