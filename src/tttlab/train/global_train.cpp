#include "tttlab/train/global_train.hpp"

#include <chrono>

#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"

namespace tttlab {

TrainLog train_classifier(torch::nn::Module& module, const ForwardFn& forward, const Split& data,
                          const TrainConfig& cfg, const std::string& label) {
  const auto data_x = data.x.defined() ? data.x.to(cfg.device) : data.x;  // undefined: the checks below say so
  return train_classifier(
      module, forward, [&](const torch::Tensor& rows) { return data_x.index_select(0, rows); }, data.y, cfg, label);
}

TrainLog train_classifier(torch::nn::Module& module, const ForwardFn& forward, const RowsFn& rows_of,
                          const torch::Tensor& labels, const TrainConfig& cfg, const std::string& label) {
  require_input(cfg.epochs >= 1, "epochs={} (expected at least 1)", cfg.epochs);
  require_input(cfg.batch_size >= 1, "batch size={} (expected at least 1)", cfg.batch_size);
  require_input(cfg.lr > 0, "learning rate={} (expected > 0)", cfg.lr);
  const int64_t n = labels.defined() ? labels.size(0) : 0;
  require_input(n > 0, "{}: the training set is empty", label);

  const auto start = std::chrono::steady_clock::now();
  module.to(cfg.device);
  module.train();
  const auto data_y = labels.to(cfg.device);
  torch::optim::Adam opt(module.parameters(), torch::optim::AdamOptions(cfg.lr).weight_decay(cfg.weight_decay));
  auto gen = at::detail::createCPUGenerator(cfg.seed);
  const int64_t batches = (n + cfg.batch_size - 1) / cfg.batch_size;

  TrainLog log;
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
    bar.set_postfix(fmt::format("epoch {} loss {:.4f}", epoch + 1, log.epoch_loss.back()));
  }
  bar.finish();
  module.eval();
  module.to(torch::kCPU);
  log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return log;
}

LinearHead train_linear_head(const Split& features, int64_t num_classes, const TrainConfig& cfg, TrainLog* log) {
  require_input(features.x.dim() == 2, "features must be 2-D [N, d], got {} dimensions", features.x.dim());
  torch::manual_seed(cfg.seed);
  torch::nn::Linear linear(features.x.size(1), num_classes);
  TrainLog result = train_classifier(
      *linear, [&](const torch::Tensor& x) { return linear->forward(x); }, features, cfg, "global head");
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
