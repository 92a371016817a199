#include "tttlab/sae/concept_analysis.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "tttlab/core/error.hpp"

namespace tttlab {

torch::Tensor mean_neighbor_cosine(const torch::Tensor& concepts_train, const torch::Tensor& concepts_test,
                                   const torch::Tensor& neighbors, int64_t k) {
  torch::NoGradGuard no_grad;
  require_input(neighbors.dim() == 2 && neighbors.size(0) == concepts_test.size(0) && neighbors.size(1) >= k,
                "O1: neighbours must be [M={}, >= k={}]", concepts_test.size(0), k);
  auto unit = [](const torch::Tensor& x) {
    const auto xd = x.to(torch::kDouble);
    return xd / xd.norm(2, {1}, true).clamp_min(1e-300);
  };
  const auto train = unit(concepts_train), test = unit(concepts_test);
  const auto idx = neighbors.slice(1, 0, k).contiguous();
  const int64_t m = idx.size(0);
  const auto nb = train.index_select(0, idx.reshape({-1})).reshape({m, k, train.size(1)});
  return torch::bmm(nb, test.unsqueeze(2)).squeeze(2).mean(1);
}

namespace {

// KL(p || softmax(beta * logits)) for one point, p given as probabilities.
double kl_at(const torch::TensorAccessor<double, 1>& p, const std::vector<double>& logits, double beta) {
  double mx = -INFINITY;
  for (double l : logits) mx = std::max(mx, beta * l);
  double z = 0;
  for (double l : logits) z += std::exp(beta * l - mx);
  const double log_z = mx + std::log(z);
  double kl = 0;
  for (size_t c = 0; c < logits.size(); ++c) {
    if (p[c] > 0) kl += p[c] * (std::log(p[c]) - (beta * logits[c] - log_z));
  }
  return kl;
}

}  // namespace

torch::Tensor calibrate_temperatures(const torch::Tensor& reference_logits, const torch::Tensor& logits) {
  torch::NoGradGuard no_grad;
  require_input(reference_logits.sizes() == logits.sizes() && logits.dim() == 2,
                "O3: both logit tensors must be [M, C] of the same shape");
  const auto p = torch::softmax(reference_logits.to(torch::kDouble), 1).contiguous();
  const auto l = logits.to(torch::kDouble).contiguous();
  const int64_t m = l.size(0), c = l.size(1);
  auto out = torch::empty({m}, torch::kDouble);
  const auto pa = p.accessor<double, 2>();
  const auto la = l.accessor<double, 2>();
  for (int64_t j = 0; j < m; ++j) {
    std::vector<double> row(c);
    for (int64_t i = 0; i < c; ++i) row[i] = la[j][i];
    // Golden-section search on log(beta) (KL is convex in beta, hence unimodal in log beta).
    const double phi = (std::sqrt(5.0) - 1) / 2;
    double a = std::log(1 / kMaxCalibrationTemperature), b = std::log(1 / kMinCalibrationTemperature);
    double x1 = b - phi * (b - a), x2 = a + phi * (b - a);
    double f1 = kl_at(pa[j], row, std::exp(x1)), f2 = kl_at(pa[j], row, std::exp(x2));
    while (b - a > 1e-9) {
      if (f1 <= f2) {
        b = x2, x2 = x1, f2 = f1;
        x1 = b - phi * (b - a);
        f1 = kl_at(pa[j], row, std::exp(x1));
      } else {
        a = x1, x1 = x2, f1 = f2;
        x2 = a + phi * (b - a);
        f2 = kl_at(pa[j], row, std::exp(x2));
      }
    }
    out[j] = 1.0 / std::exp((a + b) / 2);
  }
  return out;
}

TemperatureSummary summarize_temperatures(const torch::Tensor& temperatures) {
  require_input(temperatures.dim() == 1 && temperatures.numel() >= 1, "O3: no temperatures to summarise");
  const auto t = temperatures.to(torch::kDouble);
  // The search stops within 1e-9 (in log t) of an end it ran into; 1e-6 relative catches those only.
  const double tolerance = 1e-6;
  TemperatureSummary s;
  s.n = t.numel();
  s.median = torch::quantile(t, 0.5).item<double>();
  s.at_lower_bound = t.le(kMinCalibrationTemperature * (1 + tolerance)).sum().item<int64_t>();
  s.at_upper_bound = t.ge(kMaxCalibrationTemperature * (1 - tolerance)).sum().item<int64_t>();
  return s;
}

ProbabilityAgreement probability_agreement(const torch::Tensor& reference_logits, const torch::Tensor& other_logits,
                                           int64_t top, const BootstrapConfig& bootstrap) {
  torch::NoGradGuard no_grad;
  ProbabilityAgreement r;
  const int64_t m = other_logits.size(0), c = other_logits.size(1);
  require_input(m >= 1, "O3: no test points");
  r.top = std::min(top, c);
  r.temperatures = calibrate_temperatures(reference_logits, other_logits);
  const auto p_other_all = torch::softmax(other_logits.to(torch::kDouble) / r.temperatures.unsqueeze(1), 1);
  const auto p_ref_all = torch::softmax(reference_logits.to(torch::kDouble), 1);
  const auto ranks = std::get<1>(p_other_all.topk(r.top, 1, true, true));
  r.p_other = p_other_all.gather(1, ranks);
  r.p_reference = p_ref_all.gather(1, ranks);
  const auto agree = reference_logits.argmax(1).eq(other_logits.argmax(1)).to(torch::kDouble);
  r.agreement = agree.mean().item<double>();
  r.agreement_ci = bootstrap_ci(agree, bootstrap);

  // Statistics of a set of rows (by index): rel TV and mean probabilities at every rank.
  const auto diff = (r.p_reference - r.p_other).abs();
  auto stats = [&](const torch::Tensor& rows) {
    const auto mr = r.p_reference.index_select(0, rows).mean(0), mo = r.p_other.index_select(0, rows).mean(0);
    const auto tv = diff.index_select(0, rows).mean(0) / (0.5 * (mr + mo)).clamp_min(1e-300);
    return std::make_tuple(tv, mr, mo);
  };
  const auto [tv, mr, mo] = stats(torch::arange(m, torch::kLong));
  for (int64_t i = 0; i < r.top; ++i) {
    r.rel_tv.push_back(tv[i].item<double>());
    r.mean_reference.push_back(mr[i].item<double>());
    r.mean_other.push_back(mo[i].item<double>());
  }
  // Bootstrap: the same resampled rows for every rank and quantity (seeded as eval/bootstrap).
  std::mt19937_64 gen(bootstrap.seed);
  std::vector<std::vector<double>> tv_s(r.top), mr_s(r.top), mo_s(r.top);
  auto rows = torch::empty({m}, torch::kLong);
  for (int b = 0; b < bootstrap.resamples; ++b) {
    auto ra = rows.accessor<int64_t, 1>();
    for (int64_t j = 0; j < m; ++j) ra[j] = static_cast<int64_t>(uniform_index(static_cast<uint64_t>(m), gen));
    const auto [tvb, mrb, mob] = stats(rows);
    for (int64_t i = 0; i < r.top; ++i) {
      tv_s[i].push_back(tvb[i].item<double>());
      mr_s[i].push_back(mrb[i].item<double>());
      mo_s[i].push_back(mob[i].item<double>());
    }
  }
  auto quantile_ci = [&](std::vector<double> v) {
    if (v.empty()) return Interval{};
    std::sort(v.begin(), v.end());
    auto q = [&](double f) {
      const double pos = f * static_cast<double>(v.size() - 1);
      const size_t lo = static_cast<size_t>(std::floor(pos));
      const size_t hi = std::min(lo + 1, v.size() - 1);
      return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
    };
    return Interval{q((1 - bootstrap.level) / 2), q((1 + bootstrap.level) / 2)};
  };
  for (int64_t i = 0; i < r.top; ++i) {
    r.rel_tv_ci.push_back(quantile_ci(tv_s[i]));
    r.mean_reference_ci.push_back(quantile_ci(mr_s[i]));
    r.mean_other_ci.push_back(quantile_ci(mo_s[i]));
  }
  return r;
}

}  // namespace tttlab
