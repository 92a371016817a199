// Figure 5 (right): TTT and majority vote over the neighbourhood size k, the global head beside them.
#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/studies/scaling/plot.hpp"
#include "tttlab/studies/scaling/studies.hpp"
#include "tttlab/studies/scaling/sweep_output.hpp"

namespace tttlab {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<SweepRow> scale_k(const ScaleConfig& cfg, const std::vector<int64_t>& ks) {
  cfg.validate();
  require_input(!ks.empty(), "--ks: at least one neighbourhood size");
  for (int64_t k : ks) require_input(k >= 1, "--ks: k={} (expected >= 1)", k);
  const Dataset data = load_dataset(cfg.study.data);
  for (int64_t k : ks) require_neighbourhood_fits(k, data.train.size(), "--ks");
  json settings = scale_settings_json(cfg);
  settings["study"] = "k";
  settings["ttt"]["k"] = "swept";
  settings["majority_k"] = "the swept k";
  const SweepStore store(cfg.out, settings);

  // Seed-major order: one seed's whole curve first, and its network is trained once, cached in
  // <out>/models, and reused by the seed's other k (the network does not depend on k).
  std::vector<SweepPoint> points;
  for (uint64_t seed : cfg.seeds) {
    for (int64_t k : ks) points.push_back({fmt::format("k={},seed={}", k, seed), {{"k", k}, {"seed", seed}}});
  }
  const auto runs = run_sweep(
      store, points,
      [&](const SweepPoint& p) {
        StudyConfig sc = cfg.study;
        sc.seed = p.params["seed"].get<uint64_t>();
        sc.ttt.k = p.params["k"].get<int64_t>();
        sc.majority_k = sc.ttt.k;
        const CachedModel cache = use_cached_model(store.dir(), data, sc);
        const StudyResult r = run_study(sc, data);
        cache.save_if_trained(r);
        return study_point_result(r, cfg.resamples_per_seed, sc.seed);
      },
      "scale k");
  return finish_sweep(cfg, store, runs, settings, "scale_k",
                      {"k",
                       "neighbourhood size k",
                       fmt::format("{}: neighbourhood size", data.name),
                       true,
                       {"global", "majority", "ttt"}});
}

}  // namespace tttlab
