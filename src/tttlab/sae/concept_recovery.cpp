#include "tttlab/sae/concept_recovery.hpp"

#include <cmath>

#include "tttlab/core/error.hpp"
#include "tttlab/core/shape.hpp"

namespace tttlab {

namespace {

torch::Tensor unit_rows(const torch::Tensor& x) {
  const auto xd = x.to(torch::kDouble);
  return xd / xd.norm(2, {1}, true).clamp_min(1e-300);
}

double nan_mean(const torch::Tensor& v) {
  const auto ok = v.isfinite();
  return ok.any().item<bool>() ? v.index({ok}).mean().item<double>() : std::nan("");
}

}  // namespace

torch::Tensor concept_rows(const torch::Tensor& matrix, int64_t input_dim, const std::string& what) {
  require_input(matrix.dim() == 2, "{}: the concept matrix must be 2-D, got shape {}", what,
                shape_string(matrix.sizes()));
  require_input(matrix.is_floating_point() && torch::isfinite(matrix).all().item<bool>(),
                "{}: the concept matrix must hold finite floating-point values", what);
  if (matrix.size(1) == input_dim) return matrix;
  require_input(matrix.size(0) == input_dim, "{}: the concept matrix has shape {}, expected [T, {}] or [{}, T]", what,
                shape_string(matrix.sizes()), input_dim, input_dim);
  return matrix.t().contiguous();
}

DictionaryRecovery dictionary_recovery(const torch::Tensor& decoder, const torch::Tensor& true_concepts) {
  torch::NoGradGuard no_grad;
  require_input(decoder.dim() == 2 && true_concepts.dim() == 2 && true_concepts.size(1) == decoder.size(0),
                "concept recovery: true concepts [T, {}] expected, got {}", decoder.size(0),
                shape_string(true_concepts.sizes()));
  const auto cos = torch::matmul(unit_rows(true_concepts), unit_rows(decoder.t()).t());  // [T, d1]
  DictionaryRecovery r;
  std::tie(r.best_cosine, r.best_unit) = cos.max(1);
  std::tie(r.unit_cosine, r.unit_concept) = cos.max(0);
  r.mean = r.best_cosine.mean().item<double>();
  r.median = torch::quantile(r.best_cosine, 0.5).item<double>();
  r.share_above_0_9 = r.best_cosine.ge(0.9).to(torch::kDouble).mean().item<double>();
  r.share_above_0_7 = r.best_cosine.ge(0.7).to(torch::kDouble).mean().item<double>();
  return r;
}

UnitRecovery unit_recovery(const torch::Tensor& units_in, const DictionaryRecovery& dict,
                           const torch::Tensor& true_codes, double min_cosine) {
  torch::NoGradGuard no_grad;
  const auto units = units_in.to(torch::kBool);
  const int64_t m = units.size(0), t = true_codes.size(1);
  require_input(true_codes.dim() == 2 && true_codes.size(0) == m, "unit recovery: true codes must be [M={}, T]", m);
  require_input(dict.best_cosine.size(0) == t, "unit recovery: true codes have {} concepts, the matrix {}", t,
                dict.best_cosine.size(0));
  // Mapped units -> a [M, T] indicator of the true concepts they stand for.
  const auto usable = units.logical_and(dict.unit_cosine.ge(min_cosine).unsqueeze(0));
  auto mapped = torch::zeros({m, t}, torch::kDouble);
  mapped.scatter_add_(1, dict.unit_concept.unsqueeze(0).expand({m, -1}).contiguous(), usable.to(torch::kDouble));
  const auto mapped_set = mapped.gt(0);
  const auto truth = true_codes.gt(0);
  const auto hit = mapped_set.logical_and(truth).sum(1).to(torch::kDouble);
  UnitRecovery r;
  r.precision = hit / mapped_set.sum(1).to(torch::kDouble);  // 0/0 = NaN: no mapped unit
  r.recall = hit / truth.sum(1).to(torch::kDouble);
  r.mean_precision = nan_mean(r.precision);
  r.mean_recall = nan_mean(r.recall);
  return r;
}

}  // namespace tttlab
