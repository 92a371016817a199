#include "tttlab/theory/local_regression.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

#include "tttlab/core/error.hpp"

namespace tttlab {

namespace {

void check(const LocalRegressionData& d) {
  require_input(d.k >= 1 && d.neighbors.dim() == 2 && d.neighbors.size(1) >= d.k,
                "local regression: k={} with neighbours of shape [{}] (expected 1 <= k <= columns)", d.k,
                d.neighbors.dim() == 2 ? d.neighbors.size(1) : -1);
  require_input(d.neighbors.size(0) == d.test_psi.size(0), "local regression: {} neighbour rows for {} test points",
                d.neighbors.size(0), d.test_psi.size(0));
}

// Pseudo-inverse solution of a batch: x [B, k, d], y [B, k] -> v [B, d].
torch::Tensor batched_min_norm(const torch::Tensor& x, const torch::Tensor& y) {
  auto [u, s, vh] = torch::linalg_svd(x, /*full_matrices=*/false);
  const auto cutoff = s.amax(-1, /*keepdim=*/true) * kMinNormRcond;
  const auto inv_s = torch::where(s > cutoff, s.reciprocal(), torch::zeros_like(s));
  const auto uty = u.transpose(1, 2).matmul(y.unsqueeze(-1)).squeeze(-1);  // [B, r]
  return vh.transpose(1, 2).matmul((uty * inv_s).unsqueeze(-1)).squeeze(-1);
}

}  // namespace

torch::Tensor min_norm_local_predictions(const LocalRegressionData& d) {
  check(d);
  const int64_t m = d.test_psi.size(0);
  auto out = torch::empty({m}, torch::kDouble);
  const int64_t block = 64;
  for (int64_t b0 = 0; b0 < m; b0 += block) {
    const int64_t b1 = std::min(m, b0 + block);
    const auto idx = d.neighbors.slice(0, b0, b1).slice(1, 0, d.k);  // [B, k]
    const auto x = d.train_psi.index_select(0, idx.reshape({-1})).reshape({b1 - b0, d.k, -1});
    const auto y = d.train_y.index_select(0, idx.reshape({-1})).reshape({b1 - b0, d.k});
    const auto v = batched_min_norm(x, y);
    out.slice(0, b0, b1).copy_((d.test_psi.slice(0, b0, b1) * v).sum(1));
  }
  return out;
}

torch::Tensor min_norm_local_predictions_reference(const LocalRegressionData& d) {
  check(d);
  const int64_t m = d.test_psi.size(0);
  auto out = torch::empty({m}, torch::kDouble);
  for (int64_t i = 0; i < m; ++i) {
    const auto idx = d.neighbors[i].slice(0, 0, d.k);
    const auto x = d.train_psi.index_select(0, idx);
    const auto y = d.train_y.index_select(0, idx).unsqueeze(1);
    const auto v = std::get<0>(torch::linalg_lstsq(x, y, kMinNormRcond, "gelsd")).squeeze(1);
    out[i] = d.test_psi[i].dot(v);
  }
  return out;
}

torch::Tensor neighbor_average_predictions(const LocalRegressionData& d) {
  check(d);
  const auto idx = d.neighbors.slice(1, 0, d.k);
  return d.train_y.index_select(0, idx.reshape({-1})).reshape(idx.sizes()).mean(1);
}

torch::Tensor global_least_squares_predictions(const torch::Tensor& train_psi, const torch::Tensor& train_y,
                                               const torch::Tensor& test_psi) {
  const auto v = std::get<0>(torch::linalg_lstsq(train_psi, train_y.unsqueeze(1), kMinNormRcond, "gelsd")).squeeze(1);
  return test_psi.matmul(v);
}

LassoResult lasso_coordinate_descent(const torch::Tensor& x_in, const torch::Tensor& y_in, double lambda,
                                     int64_t max_sweeps, double tol) {
  const auto x = x_in.to(torch::kDouble).t().contiguous();  // column-major: row j = column j
  const auto y = y_in.to(torch::kDouble).contiguous();
  const int64_t p = x.size(0), n = x.size(1);
  const double* xd = x.data_ptr<double>();
  std::vector<double> r(y.data_ptr<double>(), y.data_ptr<double>() + n);  // residual y - X w
  std::vector<double> w(static_cast<size_t>(p), 0.0), col_sq(static_cast<size_t>(p));
  for (int64_t j = 0; j < p; ++j) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += xd[j * n + i] * xd[j * n + i];
    col_sq[static_cast<size_t>(j)] = s / static_cast<double>(n);
  }
  LassoResult out;
  for (out.sweeps = 1; out.sweeps <= max_sweeps; ++out.sweeps) {
    double max_move = 0;
    for (int64_t j = 0; j < p; ++j) {
      const double cj = col_sq[static_cast<size_t>(j)];
      if (cj == 0) continue;
      const double* xj = xd + j * n;
      double rho = 0;
      for (int64_t i = 0; i < n; ++i) rho += xj[i] * r[static_cast<size_t>(i)];
      const double old = w[static_cast<size_t>(j)];
      rho = rho / static_cast<double>(n) + cj * old;
      const double updated = (rho > lambda ? rho - lambda : rho < -lambda ? rho + lambda : 0.0) / cj;
      const double delta = updated - old;
      if (delta != 0) {
        for (int64_t i = 0; i < n; ++i) r[static_cast<size_t>(i)] -= xj[i] * delta;
        w[static_cast<size_t>(j)] = updated;
        max_move = std::max(max_move, std::abs(delta) * std::sqrt(cj));
      }
    }
    if (max_move <= tol) {
      out.converged = true;
      break;
    }
  }
  out.sweeps = std::min(out.sweeps, max_sweeps);
  out.w = torch::from_blob(w.data(), {p}, torch::kDouble).clone();
  return out;
}

torch::Tensor lasso_ista_reference(const torch::Tensor& x_in, const torch::Tensor& y_in, double lambda,
                                   int64_t iterations) {
  const auto x = x_in.to(torch::kDouble), y = y_in.to(torch::kDouble);
  const double n = static_cast<double>(x.size(0));
  const double lipschitz = std::pow(torch::linalg_matrix_norm(x, 2).item<double>(), 2) / n;
  const double step = 1.0 / lipschitz;
  auto w = torch::zeros({x.size(1)}, torch::kDouble);
  for (int64_t t = 0; t < iterations; ++t) {
    const auto grad = x.t().matmul(x.matmul(w) - y) / n;
    const auto z = w - step * grad;
    w = z.sign() * (z.abs() - step * lambda).clamp_min(0);
  }
  return w;
}

SparseLocalPredictions sparse_local_predictions(const LrhSample& train, const LrhSample& test,
                                                const torch::Tensor& neighbors, int64_t k, double lambda) {
  require_input(k >= 1 && neighbors.size(1) >= k, "sparse local fit: k={} (expected 1 <= k <= {})", k,
                neighbors.size(1));
  const int64_t m = test.size(), s = train.concept_ids.size(1), s_test = test.concept_ids.size(1);
  SparseLocalPredictions out{torch::empty({m}, torch::kDouble), torch::empty({m}, torch::kDouble),
                             torch::empty({m}, torch::kLong)};
  auto ids = train.concept_ids.accessor<int64_t, 2>();
  auto vals = train.concept_values.accessor<double, 2>();
  auto tids = test.concept_ids.accessor<int64_t, 2>();
  auto tvals = test.concept_values.accessor<double, 2>();
  auto nb = neighbors.accessor<int64_t, 2>();
  const double* ty = train.target.data_ptr<double>();
  std::unordered_map<int64_t, int64_t> column;
  for (int64_t q = 0; q < m; ++q) {
    column.clear();
    for (int64_t a = 0; a < k; ++a)
      for (int64_t j = 0; j < s; ++j) column.emplace(ids[nb[q][a]][j], static_cast<int64_t>(column.size()));
    const int64_t p = static_cast<int64_t>(column.size());
    auto x = torch::zeros({k, p}, torch::kDouble);
    auto y = torch::empty({k}, torch::kDouble);
    auto xa = x.accessor<double, 2>();
    for (int64_t a = 0; a < k; ++a) {
      const int64_t row = nb[q][a];
      for (int64_t j = 0; j < s; ++j) xa[a][column.at(ids[row][j])] = vals[row][j];
      y[a] = ty[row];
    }
    auto xq = torch::zeros({p}, torch::kDouble);
    for (int64_t j = 0; j < s_test; ++j) {
      const auto it = column.find(tids[q][j]);
      if (it != column.end()) xq[it->second] = tvals[q][j];
    }
    const auto w = lasso_coordinate_descent(x, y, lambda).w;
    out.lasso[q] = xq.dot(w);
    const auto support = w.ne(0).nonzero().squeeze(1);
    out.support_size[q] = support.numel();
    if (support.numel() == 0) {
      out.refit[q] = 0.0;
    } else {
      const auto xs = x.index_select(1, support);
      const auto ws = std::get<0>(torch::linalg_lstsq(xs, y.unsqueeze(1), kMinNormRcond, "gelsd")).squeeze(1);
      out.refit[q] = xq.index_select(0, support).dot(ws);
    }
  }
  return out;
}

}  // namespace tttlab
