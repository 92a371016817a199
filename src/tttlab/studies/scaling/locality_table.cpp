// Table 2: is a TTT head local? The global head; TTT on its test point; each TTT head on its own
// neighbourhood (the k training points it was fitted to); and ten randomly chosen TTT heads, each
// applied to the whole test set ("global TTT").
#include <map>
#include <random>

#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/studies/scaling/studies.hpp"
#include "tttlab/studies/scaling/sweep_output.hpp"

namespace tttlab {

using nlohmann::json;

std::pair<torch::Tensor, torch::Tensor> locality_columns(const StudyResult& r, int64_t k, int64_t random_heads,
                                                         uint64_t seed) {
  require_input(r.ttt_weights.defined() && r.ttt_biases.defined(),
                "locality: the study kept no TTT heads (keep_heads)");
  const int64_t m = r.ttt_weights.size(0);
  require_input(k >= 1 && k <= r.neighbors.size(1), "locality: k={} (the study has {} neighbours per point)", k,
                r.neighbors.size(1));
  require_input(random_heads >= 1 && random_heads <= m, "locality: {} random heads (expected 1..{})", random_heads, m);
  torch::NoGradGuard no_grad;
  const auto& train_x = r.train_features.x;
  const auto& train_y = r.train_features.y;
  // Each head on its own neighbourhood, in chunks of test points to bound the [B, k, d] copy.
  auto own = torch::empty({m}, torch::kDouble);
  constexpr int64_t chunk = 512;
  for (int64_t s = 0; s < m; s += chunk) {
    const int64_t e = std::min(m, s + chunk);
    const auto nb = r.neighbors.slice(0, s, e).slice(1, 0, k);                         // [B, k]
    const auto x = train_x.index_select(0, nb.reshape({-1})).reshape({e - s, k, -1});  // [B, k, d]
    const auto y = train_y.index_select(0, nb.reshape({-1})).reshape({e - s, k});
    const auto logits = torch::baddbmm(r.ttt_biases.slice(0, s, e).unsqueeze(1), x,
                                       r.ttt_weights.slice(0, s, e).transpose(1, 2));  // [B, k, C]
    own.slice(0, s, e).copy_(logits.argmax(2).eq(y).to(torch::kDouble).mean(1));
  }
  // Random heads on the whole test set: distinct test points drawn by a partial Fisher-Yates shuffle.
  std::vector<int64_t> order(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 gen(seed);
  auto anywhere = torch::zeros({r.test_labels.size(0)}, torch::kDouble);
  for (int64_t h = 0; h < random_heads; ++h) {
    const auto j = static_cast<size_t>(h) + uniform_index(static_cast<uint64_t>(m - h), gen);
    std::swap(order[static_cast<size_t>(h)], order[j]);
    const int64_t pick = order[static_cast<size_t>(h)];
    const LinearHead head{r.ttt_weights[pick], r.ttt_biases[pick]};
    anywhere += correct(head.logits(r.test_features.x).argmax(1), r.test_labels);
  }
  return {own, anywhere / static_cast<double>(random_heads)};
}

std::vector<SweepRow> locality_table(const ScaleConfig& cfg, int64_t random_heads) {
  cfg.validate();
  require_input(random_heads >= 1, "--random-heads={} (expected >= 1)", random_heads);
  const Dataset data = load_dataset(cfg.study.data);
  require_neighbourhood_fits(neighbourhood_needed(cfg.study), data.train.size(), "--k");
  json settings = scale_settings_json(cfg);
  settings["study"] = "locality";
  settings["random_heads"] = random_heads;
  const SweepStore store(cfg.out, settings);

  std::vector<SweepPoint> points;
  for (uint64_t seed : cfg.seeds) points.push_back({fmt::format("seed={}", seed), {{"seed", seed}}});
  const auto runs = run_sweep(
      store, points,
      [&](const SweepPoint& p) {
        StudyConfig sc = cfg.study;
        sc.seed = p.params["seed"].get<uint64_t>();
        sc.ttt.keep_heads = true;
        const CachedModel cache = use_cached_model(store.dir(), data, sc);
        const StudyResult r = run_study(sc, data);
        cache.save_if_trained(r);
        const auto [own, anywhere] = locality_columns(r, sc.ttt.k, random_heads, sc.seed);
        json j = study_point_result(r, cfg.resamples_per_seed, sc.seed);
        std::map<std::string, torch::Tensor> correct_of;
        for (const auto& m : r.methods) correct_of[m.name] = correct(m.pred, r.test_labels);
        j["metrics"] = metrics_json({{"global", correct_of.at("global")},
                                     {"ttt on the test point", correct_of.at("ttt")},
                                     {"ttt on its neighbourhood", own},
                                     {"global ttt", anywhere},
                                     {"majority", correct_of.at("majority")}},
                                    cfg.resamples_per_seed, sc.seed);
        return j;
      },
      "locality table");
  const auto rows = aggregate_sweep(runs, cfg.level);
  write_sweep_tables(store.dir(), "locality_table", rows, settings, cfg.level);
  return rows;
}

}  // namespace tttlab
