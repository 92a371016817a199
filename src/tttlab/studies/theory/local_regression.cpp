#include "tttlab/studies/theory/local_regression.hpp"

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

namespace {

torch::Tensor least_squares_on(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& support) {
  auto w = torch::zeros({x.size(1)}, torch::kDouble);
  if (support.numel() == 0) return w;
  const auto ws =
      std::get<0>(torch::linalg_lstsq(x.index_select(1, support), y.unsqueeze(1), kMinNormRcond, "gelsd")).squeeze(1);
  w.index_copy_(0, support, ws);
  return w;
}

// Indices of the `keep` largest |w| (ties: the lower index), sorted ascending.
torch::Tensor top_support(const torch::Tensor& w, int64_t keep) {
  const int64_t p = w.size(0);
  std::vector<int64_t> order(static_cast<size_t>(p));
  for (int64_t j = 0; j < p; ++j) order[static_cast<size_t>(j)] = j;
  const double* a = w.data_ptr<double>();
  std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return std::abs(a[i]) > std::abs(a[j]); });
  order.resize(static_cast<size_t>(std::min(keep, p)));
  std::sort(order.begin(), order.end());
  return torch::tensor(order, torch::kLong);
}

}  // namespace

torch::Tensor iterative_hard_thresholding(const torch::Tensor& x_in, const torch::Tensor& y_in, int64_t sparsity,
                                          int64_t iterations) {
  const auto x = x_in.to(torch::kDouble).contiguous(), y = y_in.to(torch::kDouble).contiguous();
  const int64_t p = x.size(1);
  if (sparsity >= p) return least_squares_on(x, y, torch::arange(p, torch::kLong));
  const double lipschitz = std::pow(torch::linalg_matrix_norm(x, 2).item<double>(), 2);
  auto w = torch::zeros({p}, torch::kDouble);
  if (lipschitz == 0) return w;
  torch::Tensor support;
  for (int64_t t = 0; t < iterations; ++t) {
    const auto z = (w + x.t().matmul(y - x.matmul(w)) / lipschitz).contiguous();
    auto next_support = top_support(z, sparsity);
    auto next = torch::zeros({p}, torch::kDouble);
    next.index_copy_(0, next_support, z.index_select(0, next_support));
    const bool settled = support.defined() && torch::equal(support, next_support) &&
                         (next - w).abs().max().item<double>() <= 1e-12 * (1 + w.abs().max().item<double>());
    w = next;
    support = next_support;
    if (settled) break;
  }
  return least_squares_on(x, y, support);
}

torch::Tensor best_subset_reference(const torch::Tensor& x_in, const torch::Tensor& y_in, int64_t sparsity) {
  const auto x = x_in.to(torch::kDouble), y = y_in.to(torch::kDouble);
  const int64_t p = x.size(1), keep = std::min(sparsity, p);
  require_input(p <= 20, "best_subset_reference: p={} (exhaustive search is for p <= 20)", p);
  torch::Tensor best;
  double best_rss = INFINITY;
  for (uint32_t mask = 0; mask < (1u << p); ++mask) {
    if (static_cast<int64_t>(__builtin_popcount(mask)) != keep) continue;
    std::vector<int64_t> cols;
    for (int64_t j = 0; j < p; ++j)
      if (mask & (1u << j)) cols.push_back(j);
    const auto w = least_squares_on(x, y, torch::tensor(cols, torch::kLong));
    const double rss = (y - x.matmul(w)).pow(2).sum().item<double>();
    if (rss < best_rss - 1e-12) best_rss = rss, best = w;
  }
  return best;
}

SparseLocalPredictions sparse_local_predictions(const LrhSample& train, const LrhSample& test,
                                                const torch::Tensor& neighbors, int64_t k, double lambda,
                                                int64_t sparsity) {
  require_input(k >= 1 && neighbors.size(1) >= k, "sparse local fit: k={} (expected 1 <= k <= {})", k,
                neighbors.size(1));
  const int64_t m = test.size(), s = train.concept_ids.size(1), s_test = test.concept_ids.size(1);
  require_input(sparsity >= 1, "sparse local fit: sparsity={} (expected >= 1)", sparsity);
  SparseLocalPredictions out{torch::empty({m}, torch::kDouble), torch::empty({m}, torch::kDouble),
                             torch::empty({m}, torch::kLong), torch::empty({m}, torch::kDouble)};
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
    out.refit[q] = xq.dot(least_squares_on(x, y, support));
    out.iht[q] = xq.dot(iterative_hard_thresholding(x, y, sparsity));
  }
  return out;
}

}  // namespace tttlab
