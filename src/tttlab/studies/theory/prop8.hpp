#pragma once
// Proposition 8 (Appendix C.3): on the Definition 7 instance (d1 neighbourhoods of equal mass,
// Φ(x) = e_m, Ψ(x) = p_m with p_m uniform on S^{d2-1}, y = 1), the population least-squares head
// v = argmin (1/d1)·‖1 - P v‖² (P: the d1 x d2 matrix of rows p_m) has error
//   E_P[(1/d1)·‖1 - P v‖²] = 1 - d2/d1.
// We draw P (data/lrh_world.hpp's draw_feature_map, transposed), compute the error of each draw exactly
// and average over draws, beside the closed form.
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tttlab {

// Error of one draw via a thin QR of P (d1 x d2, float64): 1 - ‖Qᵀ1‖²/d1 (the projection of 1 onto
// P's column space; stable even at d2 = d1).
double prop8_global_error(const torch::Tensor& p_rows);
// The same error computed as the proof writes it, the reference: v = (PᵀP)⁻¹Pᵀ1 by solving the
// normal equations, then the mean squared residual (1/d1)·‖1 - P v‖².
double prop8_global_error_reference(const torch::Tensor& p_rows);

struct Prop8Config {
  std::vector<int64_t> d1s{256, 1024, 4096};
  std::vector<int64_t> d2s;  // empty: 8, 16, 32, ... up to d1 (and d1 itself) for each d1
  int64_t draws = 20;
  uint64_t seed = 0;
  void validate() const;
  std::vector<int64_t> grid_d2(int64_t d1) const;  // the d2 values used for this d1 (d2 <= d1)
};

struct Prop8Point {
  int64_t d1 = 0, d2 = 0;
  double mean = 0, std_error = 0, closed_form = 0;
  std::vector<double> per_draw;
  double z() const;  // (mean - closed_form) / std_error; 0 when they differ by < 1e-9 (rounding)
};

// The draw of (d1, d2, i) uses its own stream, so grids can be extended without changing old points.
std::vector<Prop8Point> run_prop8(const Prop8Config& cfg);

nlohmann::json prop8_json(const Prop8Config& cfg, const std::vector<Prop8Point>& points);

}  // namespace tttlab
