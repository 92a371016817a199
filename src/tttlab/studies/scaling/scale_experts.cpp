// Figure 7: the mixture of experts over the number of experts, beside the global head and TTT (all
// on the same network's features; the network is trained once per seed and cached).
#include <map>

#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/baselines/mixture_of_experts.hpp"
#include "tttlab/studies/scaling/studies.hpp"
#include "tttlab/studies/scaling/sweep_output.hpp"

namespace tttlab {

using nlohmann::json;

std::vector<SweepRow> scale_experts(const ScaleConfig& cfg, const std::vector<int64_t>& experts) {
  cfg.validate();
  require_input(!experts.empty(), "--experts: at least one number of experts");
  for (int64_t e : experts) paper_moe_setting(e);
  const Dataset data = load_dataset(cfg.study.data);
  require_neighbourhood_fits(neighbourhood_needed(cfg.study), data.train.size(), "--k");
  for (int64_t e : experts) {
    require_input(e <= data.train.size(), "--experts: {} experts for a training set of {} points", e,
                  data.train.size());
  }
  json settings = scale_settings_json(cfg);
  settings["study"] = "experts";
  settings["kmeans"] = {{"iterations", 25}};
  const SweepStore store(cfg.out, settings);

  std::vector<SweepPoint> points;
  for (uint64_t seed : cfg.seeds) {
    for (int64_t e : experts)
      points.push_back({fmt::format("experts={},seed={}", e, seed), {{"experts", e}, {"seed", seed}}});
  }
  const auto runs = run_sweep(
      store, points,
      [&](const SweepPoint& p) {
        StudyConfig sc = cfg.study;
        sc.seed = p.params["seed"].get<uint64_t>();
        const CachedModel cache = use_cached_model(store.dir(), data, sc);
        const StudyResult r = run_study(sc, data);
        cache.save_if_trained(r);
        const MoeResult moe = mixture_of_experts(r.head, r.train_features, r.test_features,
                                                 paper_moe_setting(p.params["experts"].get<int64_t>()), sc.seed);
        std::map<std::string, torch::Tensor> correct_of;
        for (const auto& m : r.methods) correct_of[m.name] = correct(m.pred, r.test_labels);
        const auto moe_correct = correct(moe.pred, r.test_labels);
        json j = study_point_result(r, 1, sc.seed);
        j["metrics"] = metrics_json({{"global", correct_of.at("global")},
                                     {"ttt", correct_of.at("ttt")},
                                     {"moe", moe_correct},
                                     {"moe - global", moe_correct - correct_of.at("global")},
                                     {"ttt - moe", correct_of.at("ttt") - moe_correct}},
                                    cfg.resamples_per_seed, sc.seed);
        j["mean_ce"]["moe"] = tttlab::mean(moe.ce);
        j["kmeans_inertia"] = moe.kmeans_inertia;
        j["experts_used"] = std::get<0>(at::_unique(moe.route)).numel();
        return j;
      },
      "scale experts");
  return finish_sweep(cfg, store, runs, settings, "scale_experts",
                      {"experts",
                       "number of experts",
                       fmt::format("{}: mixture of experts", data.name),
                       true,
                       {"global", "moe", "ttt"}});
}

}  // namespace tttlab
