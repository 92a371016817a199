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
      train_classifier(
          *out.model, [&](const torch::Tensor& x) { return out.model->forward(x); }, data.train, tc,
          fmt::format("train LeNet x{}", cfg.size_scale));
      clock.lap("train_model");
    }
    out.notes["model"] =
        fmt::format("FlexibleLeNet size_scale={} ({} parameters, {} features)", out.model->shape().size_scale,
                    out.model->shape().parameter_count(), out.model->shape().feature_dim);
    out.train_features = {extract_features(out.model, data.train.x, "embed train", 1024, device), data.train.y};
    out.test_features = {extract_features(out.model, data.test.x, "embed test", 1024, device), data.test.y};
    clock.lap("features");
    validate_split(out.train_features, data.num_classes, "train features (from the model)");
    validate_split(out.test_features, data.num_classes, "test features (from the model)");
    return head_from_linear(out.model->head());
  }
  require_input(cfg.model_path.empty(), "--model applies to image data sets, not to '{}'", data.name);
  out.train_features = data.train;
  out.test_features = data.test;
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
  LinearHead head = train_linear_head(data.train, data.num_classes, tc);
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

StudyResult run_study(const StudyConfig& cfg, const Dataset& data) {
  StudyResult out;
  StudyTiming& timing = out.timing;
  StageClock clock(timing);
  cfg.ttt.validate();
  require_input(cfg.majority_k >= 0, "majority k={} (expected >= 1, or 0 for the TTT k)", cfg.majority_k);
  const torch::Device device = resolve_device(cfg.device);
  out.device = describe_device(device);

  // features (and the global head that goes with them)
  out.head = make_features(cfg, data, device, out, clock);
  const auto& train = out.train_features;
  const auto& test = out.test_features;
  out.dataset_name = data.name;
  out.num_train = train.size();
  out.num_test = test.x.size(0);  // test.y is undefined for an unlabelled test set
  out.dim = train.x.size(1);
  out.num_classes = std::max(data.num_classes, out.head.num_classes());
  out.classes_without_training_examples = classes_without_training_examples(data, out.num_classes);
  out.test_labels = test.y;

  // neighbours
  const int64_t majority_k = cfg.effective_majority_k();
  const int64_t k_max = std::max(cfg.ttt.k, majority_k);
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
  clock.lap("ttt");
  return out;
}

}  // namespace tttlab
