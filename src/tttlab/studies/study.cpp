#include "tttlab/studies/study.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tttlab/baselines/majority_vote.hpp"
#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/data/subsample.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/neighbors/index.hpp"

namespace tttlab {

double StudyTiming::total() const {
  double sum = 0;
  for (const auto& [stage, s] : seconds) sum += s;
  return sum;
}

namespace {

class StageClock {
 public:
  explicit StageClock(StudyTiming& timing) : timing_(timing) {}
  void lap(const std::string& stage) {
    const auto now = std::chrono::steady_clock::now();
    timing_.seconds.emplace_back(stage, std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }

 private:
  StudyTiming& timing_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// data -> features: images go through a FlexibleLeNet (trained here or loaded); feature vectors
// are used as they are. Returns the global head that goes with the features.
LinearHead make_features(const StudyConfig& cfg, const Dataset& data, torch::Device device, StudyResult& out,
                         StageClock& clock) {
  const Split* validation = data.val ? &*data.val : nullptr;
  if (data.is_images) {
    require_input(cfg.head_path.empty(),
                  "--head applies to embedding folders; for '{}' the head is the network's last layer "
                  "(use --model to load a trained network)",
                  data.name);
    if (!cfg.model_path.empty()) {
      out.model = load_lenet(cfg.model_path);
      require_input(out.model->shape().num_classes >= data.num_classes,
                    "{}: the model has {} classes but the data has {}", cfg.model_path.string(),
                    out.model->shape().num_classes, data.num_classes);
      require_input(out.model->shape().image_size == data.train.x.size(-1),
                    "{}: the model expects {}x{} images, the data has {}x{}", cfg.model_path.string(),
                    out.model->shape().image_size, out.model->shape().image_size, data.train.x.size(-1),
                    data.train.x.size(-1));
      clock.lap("load_model");
    } else {
      torch::manual_seed(cfg.seed);
      out.model = FlexibleLeNet(LeNetShape::from_scale(cfg.size_scale, data.num_classes, data.train.x.size(-1)));
      TrainConfig tc = cfg.model_train;
      tc.seed = cfg.seed;
      tc.device = device;
      out.model_log = train_classifier(
          *out.model, [&](const torch::Tensor& x) { return out.model->forward(x); }, data.train, tc,
          fmt::format("train LeNet x{}", cfg.size_scale), validation);
      clock.lap("train_model");
    }
    out.notes["model"] =
        fmt::format("FlexibleLeNet size_scale={} ({} parameters, {} features)", out.model->shape().size_scale,
                    out.model->shape().parameter_count(), out.model->shape().feature_dim);
    out.train_features = {extract_features(out.model, data.train.x, "embed train", 1024, device), data.train.y};
    out.test_features = {extract_features(out.model, data.test.x, "embed test", 1024, device), data.test.y};
    if (validation)
      out.val_features = {extract_features(out.model, validation->x, "embed val", 1024, device), validation->y};
    clock.lap("features");
    validate_split(out.train_features, data.num_classes, "train features (from the model)");
    validate_split(out.test_features, data.num_classes, "test features (from the model)");
    return head_from_linear(out.model->head());
  }
  require_input(cfg.model_path.empty(), "--model applies to image data sets, not to '{}'", data.name);
  out.train_features = data.train;
  out.test_features = data.test;
  if (validation) out.val_features = *validation;
  if (cfg.initial_head.weight.defined()) {
    const LinearHead& head = cfg.initial_head;
    require_input(head.dim() == data.train.x.size(1) && head.num_classes() >= data.num_classes,
                  "the initial head is [{}, {}], the data has {} classes of width {}", head.num_classes(), head.dim(),
                  data.num_classes, data.train.x.size(1));
    return {head.weight.to(torch::kCPU, torch::kFloat), head.bias.to(torch::kCPU, torch::kFloat)};
  }
  if (!cfg.head_path.empty()) {
    LinearHead head = load_head(cfg.head_path, -1, data.train.x.size(1));
    require_input(head.num_classes() >= data.num_classes, "{}: the head has {} classes but the labels go up to {}",
                  cfg.head_path.string(), head.num_classes(), data.num_classes - 1);
    clock.lap("load_head");
    return head;
  }
  TrainConfig tc = cfg.head_train;
  tc.seed = cfg.seed;
  tc.device = device;
  TrainLog log;
  LinearHead head = train_linear_head(data.train, data.num_classes, tc, &log, validation);
  out.head_log = log;
  clock.lap("train_head");
  return head;
}

// softmax in float64, kept as float32 [M, C] (what calibration and --save-probs use).
torch::Tensor class_probabilities(const torch::Tensor& logits) {
  return torch::softmax(logits.to(torch::kCPU, torch::kDouble), 1).to(torch::kFloat);
}

}  // namespace

std::vector<int64_t> classes_without_training_examples(const Dataset& data, int64_t num_classes) {
  const int64_t c = std::max(data.num_classes, num_classes);
  std::vector<int64_t> empty;
  if (c <= 0) return empty;
  const auto counts = torch::bincount(data.train.y.to(torch::kCPU, torch::kLong), {}, c).contiguous();
  const auto a = counts.accessor<int64_t, 1>();
  for (int64_t i = 0; i < c; ++i) {
    if (a[i] == 0) empty.push_back(i);
  }
  return empty;
}

std::string empty_classes_warning(const std::vector<int64_t>& empty_classes, int64_t num_classes) {
  if (empty_classes.empty()) return "";
  const size_t shown = std::min<size_t>(empty_classes.size(), 8);
  const std::vector<int64_t> head(empty_classes.begin(), empty_classes.begin() + static_cast<std::ptrdiff_t>(shown));
  return fmt::format(
      "warning: {} of {} classes have no training examples ({}{}); classes are 0..C-1 with C = 1 + "
      "the largest training label, so labels should be consecutive from 0",
      empty_classes.size(), num_classes, fmt::join(head, ", "), shown < empty_classes.size() ? ", ..." : "");
}

StudyResult run_study(const StudyConfig& cfg) {
  const auto start = std::chrono::steady_clock::now();
  const Dataset data = load_dataset(cfg.data, TestLabels::Optional);
  const std::string warning = empty_classes_warning(classes_without_training_examples(data), data.num_classes);
  if (!warning.empty()) fmt::print(stderr, "{}\n", warning);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  StudyResult out = run_study(cfg, data);
  out.timing.seconds.insert(out.timing.seconds.begin(), {"load_data", load_s});
  return out;
}

TrainConfig StudyConfig::default_head_train() {
  TrainConfig t{1000, 512, 1e-3, 5e-9};
  t.patience = 10;
  return t;
}

LocalFitConfig StudyConfig::default_ttt() {
  LocalFitConfig t;
  t.k = 50;
  t.steps = 200;
  t.lr = 1e-3;
  return t;
}

namespace {

void warn(StudyResult& out, const std::string& line) {
  if (line.empty()) return;
  fmt::print(stderr, "{}\n", line);
  out.warnings.push_back(line);
}

// The data the study runs on: with --tune and no val split, a stratified hold-out of train becomes
// the validation split and the model, head and index use the rest.
Dataset with_validation(const StudyConfig& cfg, const Dataset& data, StudyResult& out) {
  if (data.val) {
    out.validation = "the data set's val split (val_features.npy, val_labels.npy)";
    return data;
  }
  if (!cfg.tune) return data;
  Dataset d = with_holdout_validation(data, cfg.grid.holdout_fraction, cfg.seed);
  out.validation = fmt::format(
      "a stratified hold-out of {:g}% of train (seed {}): {} rows; the model, the head and the neighbour index use "
      "the other {}",
      100 * cfg.grid.holdout_fraction, cfg.seed, d.val->size(), d.train.size());
  return d;
}

}  // namespace

StudyResult run_study(const StudyConfig& cfg_in, const Dataset& data_in) {
  StudyResult out;
  StudyTiming& timing = out.timing;
  StageClock clock(timing);
  out.chosen = cfg_in;
  StudyConfig& cfg = out.chosen;
  cfg.ttt.validate();
  require_input(cfg.majority_k >= 0, "majority k={} (expected >= 1, or 0 for the TTT k)", cfg.majority_k);
  const Dataset data = with_validation(cfg, data_in, out);
  out.num_val = data.val ? data.val->size() : 0;
  // Checked before any training: a k the training set cannot serve.
  if (cfg.tune || cfg.adaptive) {
    cfg.grid.validate(data.train.size());
  }
  if (cfg.adaptive) {
    AdaptiveConfig ac;
    ac.ks = cfg.grid.ks;
    ac.holdouts = cfg.adaptive_holdouts;
    ac.validate(data.train.size());
  }
  if (!cfg.tune || cfg.compare_fixed) {
    const int64_t k_needed = cfg.tune ? cfg.ttt.k : std::max(cfg.ttt.k, cfg.effective_majority_k());
    require_input(k_needed <= data.train.size(), "k={} is larger than the training set (N={}){}", k_needed,
                  data.train.size(), data.val && !data_in.val ? " after the validation hold-out" : "");
  }
  const torch::Device device = resolve_device(cfg.device);
  out.device = describe_device(device);
  make_index(cfg.index, device);  // an unknown --index is refused here, before any training

  // features (and the global head that goes with them)
  out.head = make_features(cfg, data, device, out, clock);
  if (out.model_log) {
    warn(out, convergence_warning(*out.model_log, "the network's training",
                                  "raise --epochs, or check --train-lr (the comparison with TTT is only fair against a "
                                  "converged model)"));
  }
  if (out.head_log) {
    warn(out, convergence_warning(*out.head_log, "the global head",
                                  "raise --head-epochs or set --head-patience (a TTT gain over an undertrained head "
                                  "is not a result)"));
  }
  const auto& train = out.train_features;
  const auto& test = out.test_features;
  out.dataset_name = data.name;
  out.num_train = train.size();
  out.num_test = test.x.size(0);  // test.y is undefined for an unlabelled test set
  out.dim = train.x.size(1);
  out.num_classes = std::max(data.num_classes, out.head.num_classes());
  out.classes_without_training_examples = classes_without_training_examples(data, out.num_classes);
  out.test_labels = test.y;

  // selection on validation: TTT's k, steps, lr and majority vote's k (test labels are not passed)
  const LocalFitConfig fixed_ttt = cfg.ttt;
  if (cfg.tune) {
    LocalFitConfig base = cfg.ttt;
    base.device = device;
    out.selection = select_on_validation(out.head, train, out.val_features, out.num_classes, cfg.grid, base, cfg.index,
                                         cfg.seed, out.validation);
    cfg.ttt.k = out.selection->chosen_ttt.k;
    cfg.ttt.steps = out.selection->chosen_ttt.steps;
    cfg.ttt.lr = out.selection->chosen_ttt.lr;
    cfg.majority_k = out.selection->chosen_majority.k;
    clock.lap("selection");
  }

  // neighbours
  const int64_t majority_k = cfg.effective_majority_k();
  int64_t k_max = std::max(cfg.ttt.k, majority_k);
  if (cfg.adaptive) k_max = std::max(k_max, *std::max_element(cfg.grid.ks.begin(), cfg.grid.ks.end()));
  const bool run_fixed = cfg.tune && cfg.compare_fixed;
  if (run_fixed) k_max = std::max(k_max, fixed_ttt.k);
  out.neighbors = knn_search(train.x, test.x, k_max, cfg.index, device).indices;
  clock.lap("neighbours");

  // predictions: global head
  {
    torch::NoGradGuard no_grad;
    const auto logits = out.head.logits(test.x);
    out.methods.push_back({"global", logits.argmax(1),
                           test.y.defined() ? per_point_cross_entropy(logits, test.y) : torch::Tensor(),
                           class_probabilities(logits)});
  }
  clock.lap("global");

  // predictions: majority vote
  const auto neighbor_labels = train.y.index_select(0, out.neighbors.reshape({-1})).reshape(out.neighbors.sizes());
  out.methods.push_back({"majority", majority_vote(neighbor_labels, out.num_classes, majority_k).pred, {}});
  clock.lap("majority");

  // local fit (TTT)
  const LocalFitData fit_data{train.x, train.y, test.x, test.y, out.neighbors};
  LocalFitConfig ttt_cfg = cfg.ttt;
  ttt_cfg.device = device;
  out.local_fit_path = to_string(local_fit_path(ttt_cfg, out.head.weight.scalar_type()));
  const LocalFitResult ttt = local_fit_batched(out.head, fit_data, ttt_cfg);
  out.methods.push_back({"ttt", ttt.pred, ttt.ce, class_probabilities(ttt.logits)});
  out.ttt_weights = ttt.weights;
  out.ttt_biases = ttt.biases;
  out.ttt_flops_per_point = ttt_flops_per_point(ttt_cfg.k, ttt_cfg.steps, out.head.num_classes(), out.dim);
  clock.lap("ttt");

  // TTT at the settings before tuning, for the paired comparison with the tuned ones
  if (run_fixed) {
    LocalFitConfig fc = fixed_ttt;
    fc.device = device;
    fc.keep_heads = false;
    const LocalFitResult f = local_fit_batched(out.head, fit_data, fc);
    out.methods.push_back({"ttt_fixed", f.pred, f.ce, class_probabilities(f.logits)});
    out.fixed_flops_per_point = ttt_flops_per_point(fc.k, fc.steps, out.head.num_classes(), out.dim);
    clock.lap("ttt_fixed");
  }

  // per-point adaptive TTT: each test point's own (k, steps) from the grid
  if (cfg.adaptive) {
    AdaptiveConfig ac;
    ac.ks = cfg.grid.ks;
    ac.steps = cfg.grid.steps_with_zero();  // 0: a point may keep the global head
    ac.holdouts = cfg.adaptive_holdouts;
    // A point keeps TTT's own setting (the tuned one with --tune) unless its neighbourhood shows better.
    const bool in_grid = std::count(ac.ks.begin(), ac.ks.end(), ttt_cfg.k) > 0 &&
                         std::count(ac.steps.begin(), ac.steps.end(), ttt_cfg.steps) > 0;
    if (in_grid) {
      ac.default_k = ttt_cfg.k;
      ac.default_steps = ttt_cfg.steps;
    }
    const AdaptiveResult a = adaptive_local_fit(out.head, fit_data, ac, ttt_cfg);
    out.methods.push_back({"ttt_adaptive", a.pred, a.ce, class_probabilities(a.logits)});
    out.adaptive_k = a.chosen_k;
    out.adaptive_steps = a.chosen_steps;
    out.adaptive_flops_per_point = a.flops_per_point;
    clock.lap("ttt_adaptive");
  }
  return out;
}

}  // namespace tttlab
