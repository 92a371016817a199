#include "tttlab/selection/grid_search.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>

#include <fmt/format.h>

#include "tttlab/baselines/majority_vote.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/ttt/local_fit_common.hpp"

namespace tttlab {

namespace {

template <class T>
void require_list(const std::vector<T>& values, const char* name) {
  require_input(!values.empty(), "tune grid: {} is empty (expected at least one value)", name);
}

// Strictly better under the documented order: accuracy, then NLL, then less compute.
bool better(const TttScore& a, const TttScore& b) {
  if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
  if (a.nll != b.nll) return a.nll < b.nll;
  return std::tie(a.steps, a.k, a.lr) < std::tie(b.steps, b.k, b.lr);
}

}  // namespace

void SelectionGrid::validate(int64_t num_train) const {
  require_list(ks, "k");
  require_list(steps, "steps");
  require_list(lrs, "lr");
  require_list(majority_ks, "majority-k");
  for (int64_t k : ks) {
    require_input(k >= 1 && k <= num_train, "tune grid: k={} (expected 1..{}, the training set's size)", k, num_train);
  }
  for (int64_t k : majority_ks) {
    require_input(k >= 1 && k <= num_train, "tune grid: majority-k={} (expected 1..{}, the training set's size)", k,
                  num_train);
  }
  for (int64_t s : steps) require_input(s >= 0, "tune grid: steps={} (expected >= 0)", s);
  for (double lr : lrs) require_input(std::isfinite(lr) && lr > 0, "tune grid: lr={} (expected > 0)", lr);
  require_input(max_points >= 1, "tune: points={} (expected >= 1)", max_points);
  require_input(holdout_fraction > 0 && holdout_fraction <= 0.5, "tune: hold-out fraction {} (expected in (0, 0.5])",
                holdout_fraction);
}

std::vector<int64_t> SelectionGrid::steps_with_zero() const {
  std::vector<int64_t> s = steps;
  s.push_back(0);
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  return s;
}

SelectionResult select_on_validation(const LinearHead& head, const Split& train, const Split& val, int64_t num_classes,
                                     const SelectionGrid& grid, const LocalFitConfig& ttt, const std::string& index,
                                     uint64_t seed, const std::string& split_description) {
  const auto start = std::chrono::steady_clock::now();
  grid.validate(train.size());
  require_input(val.size() > 0, "tune: the validation split is empty");
  SelectionResult out;
  out.split = split_description;

  // The validation points scored: all, or a seeded random subset.
  Split points = val;
  if (val.size() > grid.max_points) {
    auto gen = at::detail::createCPUGenerator(seed);
    const auto rows = std::get<0>(torch::randperm(val.size(), gen, torch::kLong).slice(0, 0, grid.max_points).sort());
    points = {val.x.index_select(0, rows), val.y.index_select(0, rows)};
  }
  out.num_points = points.size();

  const int64_t k_max = std::max(*std::max_element(grid.ks.begin(), grid.ks.end()),
                                 *std::max_element(grid.majority_ks.begin(), grid.majority_ks.end()));
  const auto neighbors = knn_search(train.x, points.x, k_max, index, ttt.device).indices.to(torch::kCPU);

  // majority vote
  const auto neighbor_labels = train.y.index_select(0, neighbors.reshape({-1})).reshape(neighbors.sizes());
  for (int64_t k : grid.majority_ks) {
    const MajorityScore s{k, accuracy(majority_vote(neighbor_labels, num_classes, k).pred, points.y)};
    out.majority.push_back(s);
    if (out.majority.size() == 1 || s.accuracy > out.chosen_majority.accuracy ||
        (s.accuracy == out.chosen_majority.accuracy && s.k < out.chosen_majority.k)) {
      out.chosen_majority = s;
    }
  }

  // TTT: one pass per (k, lr), scored after every step count of the grid
  const std::vector<int64_t> steps = grid.steps_with_zero();
  const LocalFitData data{train.x, train.y, points.x, points.y, neighbors};
  bool first = true;
  for (int64_t k : grid.ks) {
    for (double lr : grid.lrs) {
      LocalFitConfig cfg = ttt;
      cfg.k = k;
      cfg.lr = lr;
      const torch::Tensor step_logits = batched_logits_at_steps(head, data, cfg, steps);
      for (size_t i = 0; i < steps.size(); ++i) {
        const auto logits = step_logits[static_cast<int64_t>(i)];
        TttScore s{k, steps[i], lr, accuracy(logits.argmax(1), points.y),
                   tttlab::mean(per_point_cross_entropy(logits, points.y))};
        out.ttt.push_back(s);
        if (first || better(s, out.chosen_ttt)) out.chosen_ttt = s;
        first = false;
      }
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

nlohmann::json selection_json(const SelectionGrid& grid, const SelectionResult& r) {
  using nlohmann::json;
  json ttt = json::array();
  for (const auto& s : r.ttt) {
    ttt.push_back({{"k", s.k}, {"steps", s.steps}, {"lr", s.lr}, {"accuracy", s.accuracy}, {"nll", s.nll}});
  }
  json majority = json::array();
  for (const auto& s : r.majority) majority.push_back({{"k", s.k}, {"accuracy", s.accuracy}});
  return {{"split", r.split},
          {"points", r.num_points},
          {"criterion", "validation accuracy; ties: lower NLL, then fewer steps, smaller k, smaller lr"},
          {"grid",
           {{"k", grid.ks},
            {"steps", grid.steps_with_zero()},
            {"lr", grid.lrs},
            {"majority_k", grid.majority_ks},
            {"max_points", grid.max_points}}},
          {"ttt", ttt},
          {"majority", majority},
          {"chosen",
           {{"ttt",
             {{"k", r.chosen_ttt.k},
              {"steps", r.chosen_ttt.steps},
              {"lr", r.chosen_ttt.lr},
              {"accuracy", r.chosen_ttt.accuracy},
              {"nll", r.chosen_ttt.nll}}},
            {"majority", {{"k", r.chosen_majority.k}, {"accuracy", r.chosen_majority.accuracy}}}}},
          {"seconds", r.seconds}};
}

}  // namespace tttlab
