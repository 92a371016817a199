#include "tttlab/eval/metrics.hpp"

#include "tttlab/core/error.hpp"
#include "tttlab/core/shape.hpp"

namespace tttlab {

namespace {

void require_labels(const torch::Tensor& t, const char* what) {
  require_input(t.defined(), "metrics: {} are undefined", what);
  require_input(t.dim() == 1, "metrics: {} must be a 1-D [n] tensor, got shape {}", what, shape_string(t.sizes()));
  require_input(!t.is_floating_point() && !t.is_complex() && t.scalar_type() != torch::kBool,
                "metrics: {} must be integer class labels, got {}", what, c10::toString(t.scalar_type()));
}

}  // namespace

torch::Tensor correct(const torch::Tensor& pred, const torch::Tensor& y) {
  require_labels(pred, "predictions");
  require_labels(y, "labels");
  require_input(pred.size(0) == y.size(0), "metrics: {} predictions for {} labels", pred.size(0), y.size(0));
  return pred.to(torch::kLong).eq(y.to(torch::kLong).to(pred.device())).to(torch::kDouble);
}

double accuracy(const torch::Tensor& pred, const torch::Tensor& y) { return tttlab::mean(correct(pred, y)); }

torch::Tensor per_point_cross_entropy(const torch::Tensor& logits, const torch::Tensor& y) {
  require_input(logits.defined(), "metrics: logits are undefined");
  require_input(logits.dim() == 2, "metrics: logits must be a 2-D [n, C] tensor, got shape {}",
                shape_string(logits.sizes()));
  require_labels(y, "labels");
  require_input(logits.size(0) == y.size(0), "metrics: {} rows of logits for {} labels", logits.size(0), y.size(0));
  const int64_t c = logits.size(1);
  require_input(c >= 1, "metrics: logits have no classes (C=0)");
  const auto labels = y.to(torch::kLong).to(logits.device());
  if (labels.numel() > 0) {
    const auto lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
    require_input(lo >= 0 && hi < c, "metrics: labels must be in [0, {}), got values in [{}, {}]", c, lo, hi);
  }
  const auto logp = torch::log_softmax(logits.to(torch::kDouble), 1);
  return -logp.gather(1, labels.unsqueeze(1)).squeeze(1);
}

double mean(const torch::Tensor& values) {
  require_input(values.defined() && values.numel() > 0, "metrics: mean of an empty set of values");
  return values.to(torch::kDouble).mean().item<double>();
}

}  // namespace tttlab
