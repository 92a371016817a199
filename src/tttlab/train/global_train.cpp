#include "tttlab/train/global_train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <tuple>

#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"

namespace tttlab {

std::string TrainConfig::criterion() const {
  if (patience <= 0) return fmt::format("fixed budget of {} epochs", epochs);
  return fmt::format("loss not improving by {:g}% for {} epochs (at most {} epochs)", 100 * min_improvement, patience,
                     epochs);
}

std::optional<double> TrainLog::final_val_loss() const {
  if (val_loss.empty() || best_epoch < 1 || best_epoch > static_cast<int64_t>(val_loss.size())) return std::nullopt;
  return val_loss[static_cast<size_t>(best_epoch - 1)];
}

// The fewest epochs the fixed-budget rule judges: a shorter budget counts as not converged.
constexpr int64_t kBudgetMinEpochs = 10;

std::pair<bool, std::string> budget_convergence(const std::vector<double>& monitored, const std::string& what) {
  const auto e = static_cast<int64_t>(monitored.size());
  // Fewer than 10 epochs give a window of one epoch, where a learning rate too small to move the
  // loss would look like convergence.
  if (e < kBudgetMinEpochs) {
    return {false, fmt::format("{} epoch{}: too few to see the {} level off (at least {})", e, e == 1 ? "" : "s", what,
                               kBudgetMinEpochs)};
  }
  // The best loss of the last tenth against the best before it: a noisy validation loss (one bad
  // epoch just before the tail) does not read as "still falling".
  const int64_t tail = std::max<int64_t>(1, e / 10);
  const double before = *std::min_element(monitored.begin(), monitored.end() - tail);
  const double after = *std::min_element(monitored.end() - tail, monitored.end());
  const double drop = before > 0 ? (before - after) / before : 0.0;
  const std::string span =
      fmt::format("the best {} of the last {} of {} epochs against the best before", what, tail, e);
  if (drop < kBudgetConvergedDrop)
    return {true,
            fmt::format("{}: {:.2f}% lower (< {:g}%)", span, 100 * std::max(drop, 0.0), 100 * kBudgetConvergedDrop)};
  return {false, fmt::format("{}: still falling, {:.4g} -> {:.4g} ({:.1f}%)", span, before, after, 100 * drop)};
}

std::string convergence_warning(const TrainLog& log, const std::string& label, const std::string& advice) {
  if (log.converged) return "";
  return fmt::format("warning: {} did not converge ({}); {}", label, log.convergence, advice);
}

TrainLog train_classifier(torch::nn::Module& module, const ForwardFn& forward, const Split& data,
                          const TrainConfig& cfg, const std::string& label, const Split* validation) {
  const auto data_x = data.x.defined() ? data.x.to(cfg.device) : data.x;  // undefined: the checks below say so
  return train_classifier(
      module, forward, [&](const torch::Tensor& rows) { return data_x.index_select(0, rows); }, data.y, cfg, label,
      validation);
}

namespace {

// Mean cross-entropy of the module on the validation split, in eval mode, without gradients.
double validation_loss(torch::nn::Module& module, const ForwardFn& forward, const torch::Tensor& x,
                       const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  module.eval();
  constexpr int64_t kRows = 4096;
  const int64_t n = y.size(0);
  auto sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(y.device()));
  for (int64_t s = 0; s < n; s += kRows) {
    const int64_t e = std::min(n, s + kRows);
    sum += torch::nn::functional::cross_entropy(forward(x.slice(0, s, e)), y.slice(0, s, e),
                                                torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
               .to(torch::kDouble);
  }
  module.train();
  return sum.item<double>() / static_cast<double>(n);
}

std::vector<torch::Tensor> copy_state(torch::nn::Module& module) {
  std::vector<torch::Tensor> state;
  for (const auto& p : module.parameters()) state.push_back(p.detach().clone());
  for (const auto& b : module.buffers()) state.push_back(b.detach().clone());
  return state;
}

void restore_state(torch::nn::Module& module, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : module.parameters()) p.copy_(state[i++]);
  for (auto& b : module.buffers()) b.copy_(state[i++]);
}

}  // namespace

TrainLog train_classifier(torch::nn::Module& module, const ForwardFn& forward, const RowsFn& rows_of,
                          const torch::Tensor& labels, const TrainConfig& cfg, const std::string& label,
                          const Split* validation) {
  require_input(cfg.epochs >= 1, "epochs={} (expected at least 1)", cfg.epochs);
  require_input(cfg.batch_size >= 1, "batch size={} (expected at least 1)", cfg.batch_size);
  require_input(cfg.lr > 0, "learning rate={} (expected > 0)", cfg.lr);
  require_input(cfg.patience >= 0, "patience={} (expected >= 0; 0 = a fixed budget of epochs)", cfg.patience);
  require_input(cfg.min_improvement >= 0 && cfg.min_improvement < 1, "minimum improvement {} (expected in [0, 1))",
                cfg.min_improvement);
  const int64_t n = labels.defined() ? labels.size(0) : 0;
  require_input(n > 0, "{}: the training set is empty", label);
  const bool has_val = validation != nullptr && validation->size() > 0;

  const auto start = std::chrono::steady_clock::now();
  module.to(cfg.device);
  module.train();
  const auto data_y = labels.to(cfg.device);
  const auto val_x = has_val ? validation->x.to(cfg.device) : torch::Tensor();
  const auto val_y = has_val ? validation->y.to(cfg.device) : torch::Tensor();
  torch::optim::Adam opt(module.parameters(), torch::optim::AdamOptions(cfg.lr).weight_decay(cfg.weight_decay));
  auto gen = at::detail::createCPUGenerator(cfg.seed);
  const int64_t batches = (n + cfg.batch_size - 1) / cfg.batch_size;

  TrainLog log;
  log.criterion = cfg.criterion();
  log.monitored = has_val ? "validation loss" : "training loss";
  const std::vector<double>& monitored = has_val ? log.val_loss : log.epoch_loss;
  double best = std::numeric_limits<double>::infinity();
  int64_t since_best = 0;
  std::vector<torch::Tensor> best_state;
  bool stopped_early = false;
  ProgressBar bar(label, cfg.epochs * batches, "batch");
  for (int64_t epoch = 0; epoch < cfg.epochs; ++epoch) {
    // The order comes from a CPU generator on every device: the same seed, the same minibatches.
    const auto order = torch::randperm(n, gen, torch::kLong).to(cfg.device);
    // Summed on the device: reading the loss every step would wait for the GPU each time.
    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(cfg.device));
    for (int64_t b = 0; b < batches; ++b) {
      const auto idx = order.slice(0, b * cfg.batch_size, std::min(n, (b + 1) * cfg.batch_size));
      const auto x = rows_of(idx);
      const auto y = data_y.index_select(0, idx);
      opt.zero_grad();
      const auto loss = torch::nn::functional::cross_entropy(forward(x), y);
      loss.backward();
      opt.step();
      loss_sum += loss.detach().to(torch::kDouble) * static_cast<double>(idx.size(0));
      bar.advance();
    }
    log.epoch_loss.push_back(loss_sum.item<double>() / static_cast<double>(n));
    if (has_val) log.val_loss.push_back(validation_loss(module, forward, val_x, val_y));
    log.epochs_run = epoch + 1;
    bar.set_postfix(
        has_val ? fmt::format("epoch {} loss {:.4f} val {:.4f}", epoch + 1, log.epoch_loss.back(), log.val_loss.back())
                : fmt::format("epoch {} loss {:.4f}", epoch + 1, log.epoch_loss.back()));
    const double current = monitored.back();
    if (current < best * (1 - cfg.min_improvement) || !std::isfinite(best)) {
      since_best = 0;
    } else {
      ++since_best;
    }
    if (current < best) {
      best = current;
      log.best_epoch = epoch + 1;
      if (has_val && cfg.patience > 0) best_state = copy_state(module);
    }
    if (cfg.patience > 0 && since_best >= cfg.patience) {
      stopped_early = true;
      break;
    }
  }
  bar.finish();
  if (!best_state.empty()) restore_state(module, best_state);
  if (!has_val || cfg.patience == 0) log.best_epoch = log.epochs_run;  // the last epoch's parameters are kept
  if (cfg.patience > 0) {
    log.converged = stopped_early;
    log.convergence = stopped_early
                          ? fmt::format("{} flat for {} epochs; stopped after {} of at most {}", log.monitored,
                                        cfg.patience, log.epochs_run, cfg.epochs)
                          : fmt::format("{} still improving after the maximum of {} epochs", log.monitored, cfg.epochs);
  } else {
    std::tie(log.converged, log.convergence) = budget_convergence(monitored, log.monitored);
  }
  module.eval();
  module.to(torch::kCPU);
  log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return log;
}

LinearHead train_linear_head(const Split& features, int64_t num_classes, const TrainConfig& cfg, TrainLog* log,
                             const Split* validation) {
  require_input(features.x.dim() == 2, "features must be 2-D [N, d], got {} dimensions", features.x.dim());
  torch::manual_seed(cfg.seed);
  torch::nn::Linear linear(features.x.size(1), num_classes);
  TrainLog result = train_classifier(
      *linear, [&](const torch::Tensor& x) { return linear->forward(x); }, features, cfg, "global head", validation);
  if (log) *log = std::move(result);
  return head_from_linear(linear);
}

LinearHead train_linear_head(const RowsFn& rows_of, int64_t dim, const torch::Tensor& labels, int64_t num_classes,
                             const TrainConfig& cfg, TrainLog* log) {
  require_input(dim >= 1, "features of width {} (expected >= 1)", dim);
  torch::manual_seed(cfg.seed);
  torch::nn::Linear linear(dim, num_classes);
  TrainLog result = train_classifier(
      *linear, [&](const torch::Tensor& x) { return linear->forward(x); }, rows_of, labels, cfg, "global head");
  if (log) *log = std::move(result);
  return head_from_linear(linear);
}

torch::Tensor extract_features(FlexibleLeNet& model, const torch::Tensor& images, const std::string& label,
                               int64_t batch_size, torch::Device device) {
  torch::NoGradGuard no_grad;
  model->eval();
  model->to(device);
  const int64_t n = images.size(0);
  std::vector<torch::Tensor> parts;
  ProgressBar bar(label, n, "img");
  for (int64_t s = 0; s < n; s += batch_size) {
    const int64_t e = std::min(n, s + batch_size);
    parts.push_back(model->features(images.slice(0, s, e).to(device)).to(torch::kCPU));
    bar.advance(e - s);
  }
  bar.finish();
  model->to(torch::kCPU);
  return parts.empty() ? torch::empty({0, model->shape().feature_dim}) : torch::cat(parts);
}

}  // namespace tttlab
