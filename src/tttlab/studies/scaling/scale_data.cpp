// Figure 5 (left): global head, majority vote and TTT trained on class-balanced fractions of the
// training set; the test set stays whole.
#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/studies/scaling/studies.hpp"
#include "tttlab/data/subsample.hpp"
#include "tttlab/studies/scaling/sweep_output.hpp"

namespace tttlab {

using nlohmann::json;

std::vector<SweepRow> scale_data(const ScaleConfig& cfg, const std::vector<double>& fractions) {
  cfg.validate();
  require_input(!fractions.empty(), "--fractions: at least one fraction");
  for (double f : fractions) require_input(f > 0 && f <= 1, "--fractions: {} (expected in (0, 1])", f);
  const Dataset data = load_dataset(cfg.study.data);
  // Every fraction's subsample must serve the neighbourhoods (its size does not depend on the seed).
  for (double f : fractions) {
    const int64_t rows = class_balanced_rows(data.train.y, data.num_classes, f, cfg.seeds.front()).size(0);
    require_neighbourhood_fits(neighbourhood_needed(cfg.study), rows, fmt::format("--fractions {:g}", f));
  }
  json settings = scale_settings_json(cfg);
  settings["study"] = "data";
  const SweepStore store(cfg.out, settings);

  std::vector<SweepPoint> points;
  for (uint64_t seed : cfg.seeds) {
    for (double f : fractions) {
      points.push_back({fmt::format("fraction={:g},seed={}", f, seed), {{"fraction", f}, {"seed", seed}}});
    }
  }
  const auto runs = run_sweep(
      store, points,
      [&](const SweepPoint& p) {
        StudyConfig sc = cfg.study;
        sc.seed = p.params["seed"].get<uint64_t>();
        // The subsample's draw follows the seed too, so seeds vary both the data and the network.
        const Dataset sub = with_class_balanced_train(data, p.params["fraction"].get<double>(), sc.seed);
        const StudyResult r = run_study(sc, sub);
        return study_point_result(r, cfg.resamples_per_seed, sc.seed);
      },
      "scale data");
  return finish_sweep(cfg, store, runs, settings, "scale_data",
                      {"fraction",
                       "fraction of the training set",
                       fmt::format("{}: training-set size", data.name),
                       true,
                       {"global", "majority", "ttt"}});
}

}  // namespace tttlab
