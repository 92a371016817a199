#include "tttlab/selection/adaptive.hpp"

#include <algorithm>

#include "tttlab/core/error.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/ttt/local_fit_common.hpp"

namespace tttlab {

namespace {

std::vector<int64_t> sorted_unique(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// One TTT pass over `data` with k neighbours: the logits after every step count of the grid, [S, M, C].
torch::Tensor logits_per_step(const LinearHead& head, const LocalFitData& data, int64_t k,
                              const std::vector<int64_t>& steps, LocalFitConfig cfg) {
  cfg.k = k;
  return batched_logits_at_steps(head, data, cfg, steps);
}

}  // namespace

void AdaptiveConfig::validate(int64_t neighbours_available) const {
  require_input(!ks.empty() && !steps.empty(), "adaptive: the k and steps grids must not be empty");
  for (int64_t k : ks) {
    require_input(k >= 2 && k <= neighbours_available,
                  "adaptive: k={} (expected 2..{}: one neighbour is held out, and the list has {})", k,
                  neighbours_available, neighbours_available);
  }
  for (int64_t s : steps) require_input(s >= 0, "adaptive: steps={} (expected >= 0)", s);
  if (default_k > 0) {
    require_input(std::find(ks.begin(), ks.end(), default_k) != ks.end() &&
                      std::find(steps.begin(), steps.end(), default_steps) != steps.end(),
                  "adaptive: the default k={}, steps={} is not in the grid", default_k, default_steps);
  }
  const int64_t k_min = *std::min_element(ks.begin(), ks.end());
  require_input(holdouts >= 1 && holdouts <= k_min, "adaptive: {} held-out neighbours (expected 1..{}, the smallest k)",
                holdouts, k_min);
}

double ttt_flops_per_point(int64_t k, int64_t steps, int64_t num_classes, int64_t dim) {
  return 6.0 * static_cast<double>(k) * static_cast<double>(num_classes) * static_cast<double>(dim) *
         static_cast<double>(steps);
}

AdaptiveResult adaptive_local_fit(const LinearHead& head, const LocalFitData& data, const AdaptiveConfig& cfg,
                                  const LocalFitConfig& base) {
  require_input(data.neighbors.defined() && data.neighbors.dim() == 2, "adaptive: neighbours must be [M, k]");
  cfg.validate(data.neighbors.size(1));
  const std::vector<int64_t> ks = sorted_unique(cfg.ks), steps = sorted_unique(cfg.steps);
  const int64_t m = data.test_x.size(0), c = head.num_classes(), d = head.dim();
  const auto num_k = static_cast<int64_t>(ks.size()), num_s = static_cast<int64_t>(steps.size());
  const auto nbr = data.neighbors.to(torch::kCPU, torch::kLong);
  const auto train_y = data.train_y.to(torch::kCPU, torch::kLong);

  // Leave-one-out on each point's own neighbourhood: held-out neighbour j is predicted by TTT on the
  // point's neighbours without j. correct / nll: [K, S, M], summed over the held-out neighbours.
  auto correct = torch::zeros({num_k, num_s, m}, torch::kDouble);
  auto nll = torch::zeros({num_k, num_s, m}, torch::kDouble);
  AdaptiveResult out;
  for (int64_t j = 0; j < cfg.holdouts; ++j) {
    const auto held = nbr.select(1, j);
    const auto rest = torch::cat({nbr.slice(1, 0, j), nbr.slice(1, j + 1, nbr.size(1))}, 1);
    const auto held_y = train_y.index_select(0, held);
    const LocalFitData loo{data.train_x, data.train_y, data.train_x.index_select(0, held.to(data.train_x.device())),
                           held_y, rest};
    for (int64_t ki = 0; ki < num_k; ++ki) {
      const auto logits = logits_per_step(head, loo, ks[ki] - 1, steps, base).to(torch::kCPU);
      for (int64_t s = 0; s < num_s; ++s) {
        correct[ki][s] += logits[s].argmax(1).eq(held_y).to(torch::kDouble);
        nll[ki][s] += per_point_cross_entropy(logits[s], held_y);
      }
      out.flops_per_point += ttt_flops_per_point(ks[ki] - 1, steps.back(), c, d);
    }
  }

  // Each point's choice (the header's rule): start from the default setting when there is one, else
  // from the first; replace only on strictly more held-out neighbours right, or as many with a lower
  // cross-entropy when there is no default (the loops run over steps, then k, so ties keep fewer
  // steps and smaller k).
  out.chosen_k = torch::empty({m}, torch::kLong);
  out.chosen_steps = torch::empty({m}, torch::kLong);
  std::vector<int64_t> choice_k(static_cast<size_t>(m)), choice_s(static_cast<size_t>(m));
  {
    const auto cor = correct.accessor<double, 3>();
    const auto ce = nll.accessor<double, 3>();
    const bool has_default = cfg.default_k > 0;
    const auto index_of = [](const std::vector<int64_t>& v, int64_t x) {
      return static_cast<int64_t>(std::find(v.begin(), v.end(), x) - v.begin());
    };
    const int64_t default_ki = has_default ? index_of(ks, cfg.default_k) : 0;
    const int64_t default_si = has_default ? index_of(steps, cfg.default_steps) : 0;
    for (int64_t i = 0; i < m; ++i) {
      int64_t best_k = default_ki, best_s = default_si;
      bool left_default = !has_default;
      for (int64_t s = 0; s < num_s; ++s) {
        for (int64_t ki = 0; ki < num_k; ++ki) {
          const double dc = cor[ki][s][i] - cor[best_k][best_s][i];
          const bool tie_wins = left_default && dc == 0 && ce[ki][s][i] < ce[best_k][best_s][i];
          if (dc > 0 || tie_wins) {
            left_default = true;
            best_k = ki;
            best_s = s;
          }
        }
      }
      choice_k[static_cast<size_t>(i)] = best_k;
      choice_s[static_cast<size_t>(i)] = best_s;
      out.chosen_k[i] = ks[best_k];
      out.chosen_steps[i] = steps[best_s];
    }
  }

  // Each test point's TTT under its own k (the points that chose one k run as one batch), read off
  // after its own step count.
  out.logits = torch::empty({m, c}, head.weight.options().device(torch::kCPU));
  const auto choice_k_t = torch::tensor(choice_k, torch::kLong), choice_s_t = torch::tensor(choice_s, torch::kLong);
  for (int64_t ki = 0; ki < num_k; ++ki) {
    const auto rows = choice_k_t.eq(ki).nonzero().squeeze(1);
    if (rows.numel() == 0) continue;
    const auto on = [&](const torch::Tensor& t) { return t.index_select(0, rows.to(t.device())); };
    const LocalFitData subset{data.train_x, data.train_y, on(data.test_x), torch::Tensor(), on(data.neighbors)};
    const auto logits = logits_per_step(head, subset, ks[ki], steps, base).to(torch::kCPU);  // [S, R, C]
    const auto s_idx = choice_s_t.index_select(0, rows);
    const auto picked = logits.permute({1, 0, 2}).gather(1, s_idx.view({-1, 1, 1}).expand({-1, 1, c})).squeeze(1);
    out.logits.index_copy_(0, rows, picked);
    out.flops_per_point +=
        ttt_flops_per_point(ks[ki], steps.back(), c, d) * static_cast<double>(rows.numel()) / static_cast<double>(m);
  }
  out.pred = out.logits.argmax(1);
  if (data.test_y.defined()) out.ce = per_point_cross_entropy(out.logits, data.test_y.to(torch::kCPU));
  return out;
}

}  // namespace tttlab
