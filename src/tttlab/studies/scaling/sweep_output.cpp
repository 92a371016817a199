#include "tttlab/studies/scaling/sweep_output.hpp"

#include <fmt/format.h>

namespace tttlab {

namespace fs = std::filesystem;

CachedModel use_cached_model(const fs::path& dir, const Dataset& data, StudyConfig& cfg) {
  CachedModel c;
  if (!data.is_images || !cfg.model_path.empty()) return c;
  fs::create_directories(dir / "models");
  c.path_ = dir / "models" / fmt::format("seed={}.safetensors", cfg.seed);
  c.exists_ = fs::exists(c.path_);
  if (c.exists_) cfg.model_path = c.path_;
  return c;
}

void CachedModel::save_if_trained(const StudyResult& result) const {
  if (!path_.empty() && !exists_ && result.model) save_lenet(path_, result.model);
}

std::vector<SweepRow> finish_sweep(const ScaleConfig& cfg, const SweepStore& store, const std::vector<SweepRun>& runs,
                                   const nlohmann::json& settings, const std::string& name, const SweepPlotSpec& plot) {
  const auto rows = aggregate_sweep(runs, cfg.level);
  write_sweep_tables(store.dir(), name, rows, settings, cfg.level);
  if (cfg.plot) {
    try {
      plot_sweep(store.dir() / name, rows, plot);
    } catch (const std::exception& e) {
      fmt::print(stderr, "warning: no figure: {}\n", e.what());
    }
  }
  return rows;
}

}  // namespace tttlab
