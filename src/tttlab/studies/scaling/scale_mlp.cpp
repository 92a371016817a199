// Model size on an embedding folder (E.6, Tables 7-8): two-layer MLP heads of growing hidden width
// trained on the frozen embeddings; then, in each MLP's hidden space (after the ReLU), the study of
// `tttlab run` with the MLP's last layer as the global head: TTT of that layer on the k nearest hidden
// vectors (Table 8) and majority vote there (k = 10).
#include <fmt/format.h>

#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/models/mlp_head.hpp"
#include "tttlab/models/model_sizes.hpp"
#include "tttlab/studies/scaling/studies.hpp"
#include "tttlab/studies/scaling/sweep_output.hpp"

namespace tttlab {

using nlohmann::json;

std::vector<SweepRow> scale_mlp_widths(const ScaleConfig& cfg, const Dataset& data, const std::vector<int64_t>& widths,
                                       int64_t max_epochs, const MlpTrainOverride& mlp_train) {
  require_input(!data.is_images, "scale model: the MLP heads are for embedding folders, '{}' holds images", data.name);
  require_input(!widths.empty(), "--widths: at least one hidden width");
  for (int64_t h : widths) require_input(h > 0, "--widths: hidden width {} (expected > 0)", h);
  require_input(max_epochs >= 0, "--max-epochs={} (expected >= 0; 0 = Table 7's epochs)", max_epochs);
  require_input(mlp_train.lr >= 0 && mlp_train.batch >= 0, "--mlp-lr={} --mlp-batch={} (expected >= 0; 0 = Table 7's)",
                mlp_train.lr, mlp_train.batch);
  const PaperMlpTtt ttt;
  require_input(ttt.k <= data.train.x.size(0), "scale model: Table 8's k = {} is larger than the training set ({})",
                ttt.k, data.train.x.size(0));
  json settings = scale_settings_json(cfg);
  settings["study"] = "model (MLP heads, Tables 7-8)";
  settings["max_epochs"] = max_epochs;
  settings["ttt_k"] = ttt.k;
  settings["ttt_steps"] = ttt.steps;
  settings["ttt_lr"] = ttt.lr;
  settings["majority_k"] = ttt.majority_k;
  settings["mlp_lr"] = mlp_train.lr;
  settings["mlp_batch"] = mlp_train.batch;
  for (const char* key : {"size_scale", "model_train", "head_train", "ttt"}) settings.erase(key);
  const SweepStore store(cfg.out, settings);
  const torch::Device device = resolve_device(cfg.study.device);
  const int64_t d = data.train.x.size(1), c = data.num_classes;

  std::vector<SweepPoint> points;
  for (uint64_t seed : cfg.seeds) {
    for (int64_t h : widths)
      points.push_back({fmt::format("hidden={},seed={}", h, seed), {{"hidden", h}, {"seed", seed}}});
  }
  const auto runs = run_sweep(
      store, points,
      [&](const SweepPoint& pt) {
        const int64_t hidden = pt.params["hidden"].get<int64_t>();
        const uint64_t seed = pt.params["seed"].get<uint64_t>();
        const PaperMlpWidth& row = paper_mlp_width(hidden);
        torch::manual_seed(seed);
        MlpHead mlp(d, hidden, c, row.dropout);
        TrainConfig tc{max_epochs > 0 ? std::min(max_epochs, row.train_epochs) : row.train_epochs,
                       mlp_train.batch > 0 ? mlp_train.batch : row.train_batch,
                       mlp_train.lr > 0 ? mlp_train.lr : row.train_lr,
                       0.0,
                       seed,
                       device};
        train_classifier(
            *mlp, [&](const torch::Tensor& x) { return mlp->forward(x); }, data.train, tc,
            fmt::format("train MLP h={}", hidden));
        Dataset hidden_space{fmt::format("{} (MLP hidden {})", data.name, hidden),
                             {mlp_hidden_features(mlp, data.train.x, 4096, device), data.train.y},
                             {mlp_hidden_features(mlp, data.test.x, 4096, device), data.test.y},
                             std::nullopt,
                             c,
                             false};
        StudyConfig sc = cfg.study;
        sc.seed = seed;
        sc.head_path.clear();
        sc.initial_head = mlp->output_head();
        sc.ttt.k = ttt.k;
        sc.ttt.steps = ttt.steps;
        sc.ttt.lr = ttt.lr;
        sc.majority_k = ttt.majority_k;
        const StudyResult r = run_study(sc, hidden_space);
        json j = study_point_result(r, cfg.resamples_per_seed, seed);
        j["parameters"] = d * hidden + hidden + hidden * c + c;
        j["epochs"] = tc.epochs;
        j["dropout"] = row.dropout;
        j["train_lr"] = tc.lr;
        j["train_batch"] = tc.batch_size;
        return j;
      },
      "scale model (MLP)");
  return finish_sweep(cfg, store, runs, settings, "scale_model",
                      {"hidden",
                       "hidden units of the MLP head",
                       fmt::format("{}: MLP head width", data.name),
                       true,
                       {"global", "majority", "ttt"}});
}

}  // namespace tttlab
