#include "tttlab/data/subsample.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "tttlab/core/error.hpp"

namespace tttlab {

namespace {

// Rows of each class, ascending; InputError for a label outside 0..num_classes-1.
std::vector<std::vector<int64_t>> rows_by_class(const torch::Tensor& labels, int64_t num_classes) {
  const auto y = labels.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* p = y.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (int64_t i = 0; i < y.numel(); ++i) {
    require_input(p[i] >= 0 && p[i] < num_classes, "subsample: label {} of row {} outside 0..{}", p[i], i,
                  num_classes - 1);
    by_class[static_cast<size_t>(p[i])].push_back(i);
  }
  return by_class;
}

// The seeded Fisher-Yates shuffle of one class's rows (each class draws from its own generator, so a
// class's rows do not depend on the other classes).
void shuffle_class_rows(std::vector<int64_t>& idx, int64_t c, uint64_t seed) {
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(c));
  for (size_t i = idx.size() - 1; i >= 1 && !idx.empty(); --i) std::swap(idx[i], idx[rng() % (i + 1)]);
}

}  // namespace

torch::Tensor class_balanced_rows(const torch::Tensor& labels, int64_t num_classes, double fraction, uint64_t seed) {
  require_input(fraction > 0 && fraction <= 1, "data fraction {} (expected in (0, 1])", fraction);
  require_input(labels.defined() && labels.dim() == 1 && labels.numel() > 0,
                "subsample: labels must be a non-empty [N] tensor");
  require_input(num_classes >= 1, "subsample: num_classes={} (expected >= 1)", num_classes);
  const int64_t n = labels.numel();
  if (fraction == 1.0) return torch::arange(n, torch::kLong);
  auto by_class = rows_by_class(labels, num_classes);
  const int64_t m =
      std::max<int64_t>(1, std::llround(fraction * static_cast<double>(n) / static_cast<double>(num_classes)));
  std::vector<int64_t> rows;
  for (int64_t c = 0; c < num_classes; ++c) {
    auto& idx = by_class[static_cast<size_t>(c)];
    require_input(static_cast<int64_t>(idx.size()) >= m,
                  "data fraction {}: class {} has {} training rows, fewer than the {} a balanced subsample needs",
                  fraction, c, idx.size(), m);
    shuffle_class_rows(idx, c, seed);
    rows.insert(rows.end(), idx.begin(), idx.begin() + m);
  }
  std::sort(rows.begin(), rows.end());
  return torch::tensor(rows, torch::kLong);
}

Dataset with_class_balanced_train(const Dataset& data, double fraction, uint64_t seed) {
  const torch::Tensor rows = class_balanced_rows(data.train.y, data.num_classes, fraction, seed);
  Dataset out = data;
  out.train = {data.train.x.index_select(0, rows), data.train.y.index_select(0, rows)};
  out.name = fmt::format("{} (train: {:g}% class-balanced, seed {})", data.name, 100 * fraction, seed);
  return out;
}

HoldoutRows stratified_holdout_rows(const torch::Tensor& labels, int64_t num_classes, double fraction, uint64_t seed) {
  require_input(fraction > 0 && fraction <= 0.5, "validation hold-out fraction {} (expected in (0, 0.5])", fraction);
  require_input(labels.defined() && labels.dim() == 1 && labels.numel() > 0,
                "hold-out: labels must be a non-empty [N] tensor");
  require_input(num_classes >= 1, "hold-out: num_classes={} (expected >= 1)", num_classes);
  auto by_class = rows_by_class(labels, num_classes);
  std::vector<int64_t> keep, holdout;
  for (int64_t c = 0; c < num_classes; ++c) {
    auto& idx = by_class[static_cast<size_t>(c)];
    const auto nc = static_cast<int64_t>(idx.size());
    if (nc == 0) continue;
    const int64_t h = nc < 2 ? 0 : std::clamp<int64_t>(std::llround(fraction * static_cast<double>(nc)), 1, nc - 1);
    shuffle_class_rows(idx, c, seed);
    holdout.insert(holdout.end(), idx.begin(), idx.begin() + h);
    keep.insert(keep.end(), idx.begin() + h, idx.end());
  }
  require_input(!holdout.empty(), "hold-out: no class has two training rows, so none can be held out for validation");
  std::sort(keep.begin(), keep.end());
  std::sort(holdout.begin(), holdout.end());
  return {torch::tensor(keep, torch::kLong), torch::tensor(holdout, torch::kLong)};
}

Dataset with_holdout_validation(const Dataset& data, double fraction, uint64_t seed) {
  const HoldoutRows rows = stratified_holdout_rows(data.train.y, data.num_classes, fraction, seed);
  Dataset out = data;
  out.train = {data.train.x.index_select(0, rows.keep), data.train.y.index_select(0, rows.keep)};
  out.val = Split{data.train.x.index_select(0, rows.holdout), data.train.y.index_select(0, rows.holdout)};
  return out;
}

}  // namespace tttlab
