// Figure 4 (MNIST): global head, majority vote and TTT over the network's size. Every size brings
// its own hyperparameters from the paper (model_sizes.hpp); the sweep's base settings supply the
// rest (data, device, index, bootstrap). Embedding folders go to the MLP heads (scale_mlp.cpp).
#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/models/model_sizes.hpp"
#include "tttlab/studies/scaling/studies.hpp"
#include "tttlab/studies/scaling/sweep_output.hpp"

namespace tttlab {

using nlohmann::json;

std::vector<SweepRow> scale_model(const ScaleConfig& cfg, const std::vector<int64_t>& sizes, int64_t max_epochs,
                                  const std::vector<int64_t>& widths, const MlpTrainOverride& mlp_train) {
  cfg.validate();
  const Dataset data = load_dataset(cfg.study.data);
  if (!data.is_images) return scale_mlp_widths(cfg, data, widths, max_epochs, mlp_train);
  require_input(!sizes.empty(), "--sizes: at least one parameter count");
  for (int64_t p : sizes) {
    const PaperModelSize& row = paper_model_size(p);  // checks each
    require_neighbourhood_fits(std::max(row.ttt_k, row.majority_k), data.train.size(),
                               fmt::format("--sizes {} (Tables 4-5)", p));
  }
  require_input(max_epochs >= 0, "--max-epochs={} (expected >= 0; 0 = Table 3's epochs)", max_epochs);
  json settings = scale_settings_json(cfg);
  settings["study"] = "model";
  settings["max_epochs"] = max_epochs;
  // per size from the paper's tables: not the base's
  settings.erase("size_scale");
  settings.erase("model_train");
  settings.erase("ttt");
  settings.erase("majority_k");
  const SweepStore store(cfg.out, settings);

  std::vector<SweepPoint> points;
  for (uint64_t seed : cfg.seeds) {
    for (int64_t p : sizes)
      points.push_back({fmt::format("parameters={},seed={}", p, seed), {{"parameters", p}, {"seed", seed}}});
  }
  const auto runs = run_sweep(
      store, points,
      [&](const SweepPoint& pt) {
        const PaperModelSize& size = paper_model_size(pt.params["parameters"].get<int64_t>());
        StudyConfig sc = cfg.study;
        sc.seed = pt.params["seed"].get<uint64_t>();
        sc.model_path.clear();
        sc.size_scale = size_scale_for_parameters(size.parameters, data.num_classes, data.train.x.size(-1));
        sc.model_train.lr = size.train_lr;
        sc.model_train.batch_size = size.train_batch;
        sc.model_train.epochs = max_epochs > 0 ? std::min(max_epochs, size.train_epochs) : size.train_epochs;
        sc.ttt.lr = size.ttt_lr;
        sc.ttt.steps = size.ttt_steps;
        sc.ttt.k = size.ttt_k;
        sc.majority_k = size.majority_k;
        const StudyResult r = run_study(sc, data);
        json j = study_point_result(r, cfg.resamples_per_seed, sc.seed);
        j["size_scale"] = sc.size_scale;
        j["epochs"] = sc.model_train.epochs;
        return j;
      },
      "scale model");
  return finish_sweep(cfg, store, runs, settings, "scale_model",
                      {"parameters",
                       "parameters (the paper's count; ours is the closest FlexibleLeNet)",
                       fmt::format("{}: model size", data.name),
                       true,
                       {"global", "majority", "ttt"}});
}

}  // namespace tttlab
