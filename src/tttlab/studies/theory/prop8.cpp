#include "tttlab/studies/theory/prop8.hpp"

#include <cmath>

#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/data/lrh_world.hpp"

namespace tttlab {

double prop8_global_error(const torch::Tensor& p_rows) {
  const int64_t d1 = p_rows.size(0);
  const auto q = std::get<0>(torch::linalg_qr(p_rows, "reduced"));  // [d1, d2]
  const auto proj = q.sum(0);                                       // Qᵀ1
  return 1.0 - proj.pow(2).sum().item<double>() / static_cast<double>(d1);
}

double prop8_global_error_reference(const torch::Tensor& p_rows) {
  const int64_t d1 = p_rows.size(0);
  const auto ones = torch::ones({d1, 1}, p_rows.options());
  const auto v = torch::linalg_solve(p_rows.t().matmul(p_rows), p_rows.t().matmul(ones));
  return (ones - p_rows.matmul(v)).pow(2).sum().item<double>() / static_cast<double>(d1);
}

void Prop8Config::validate() const {
  require_input(!d1s.empty(), "prop8: no d1 values");
  require_input(draws >= 2, "prop8: draws={} (expected >= 2, for a standard error)", draws);
  for (const int64_t d1 : d1s) require_input(d1 >= 1 && d1 <= 16384, "prop8: d1={} (expected 1..16384)", d1);
  for (const int64_t d2 : d2s) require_input(d2 >= 1, "prop8: d2={} (expected >= 1)", d2);
}

std::vector<int64_t> Prop8Config::grid_d2(int64_t d1) const {
  std::vector<int64_t> out;
  if (!d2s.empty()) {
    for (const int64_t d2 : d2s)
      if (d2 <= d1) out.push_back(d2);
    return out;
  }
  for (int64_t d2 = 8; d2 < d1; d2 *= 2) out.push_back(d2);
  out.push_back(d1);
  return out;
}

double Prop8Point::z() const {
  const double diff = mean - closed_form;
  if (std::abs(diff) < 1e-9) return 0.0;  // d2 = d1: both are 0 up to rounding
  if (std_error == 0) return INFINITY;
  return diff / std_error;
}

std::vector<Prop8Point> run_prop8(const Prop8Config& cfg) {
  cfg.validate();
  int64_t total = 0;
  for (const int64_t d1 : cfg.d1s) total += static_cast<int64_t>(cfg.grid_d2(d1).size()) * cfg.draws;
  ProgressBar bar("prop8 draws", total, "draw");
  std::vector<Prop8Point> out;
  for (const int64_t d1 : cfg.d1s) {
    for (const int64_t d2 : cfg.grid_d2(d1)) {
      Prop8Point pt;
      pt.d1 = d1, pt.d2 = d2;
      pt.closed_form = 1.0 - static_cast<double>(d2) / static_cast<double>(d1);
      for (int64_t i = 0; i < cfg.draws; ++i) {
        PortableRng rng(
            cfg.seed, (static_cast<uint64_t>(d1) << 40) ^ (static_cast<uint64_t>(d2) << 20) ^ static_cast<uint64_t>(i));
        pt.per_draw.push_back(prop8_global_error(draw_feature_map(d2, d1, rng).t()));
        bar.advance();
      }
      double sum = 0;
      for (const double e : pt.per_draw) sum += e;
      pt.mean = sum / static_cast<double>(cfg.draws);
      double ss = 0;
      for (const double e : pt.per_draw) ss += (e - pt.mean) * (e - pt.mean);
      pt.std_error = std::sqrt(ss / static_cast<double>(cfg.draws - 1) / static_cast<double>(cfg.draws));
      out.push_back(std::move(pt));
    }
  }
  bar.finish();
  return out;
}

nlohmann::json prop8_json(const Prop8Config& cfg, const std::vector<Prop8Point>& points) {
  nlohmann::json rows = nlohmann::json::array();
  int64_t within3 = 0;
  for (const auto& p : points) {
    within3 += std::abs(p.z()) <= 3.0;
    rows.push_back({{"d1", p.d1},
                    {"d2", p.d2},
                    {"ratio", static_cast<double>(p.d2) / static_cast<double>(p.d1)},
                    {"mean_error", p.mean},
                    {"std_error", p.std_error},
                    {"closed_form", p.closed_form},
                    {"z", std::isfinite(p.z()) ? nlohmann::json(p.z()) : nlohmann::json(nullptr)},
                    {"per_draw", p.per_draw}});
  }
  return {{"experiment", "prop8"},
          {"claim", "E_P[global least-squares error] = 1 - d2/d1 on the Definition 7 instance"},
          {"config", {{"d1", cfg.d1s}, {"draws", cfg.draws}, {"seed", cfg.seed}}},
          {"points", rows},
          {"within_3_standard_errors", within3},
          {"grid_points", static_cast<int64_t>(points.size())}};
}

}  // namespace tttlab
