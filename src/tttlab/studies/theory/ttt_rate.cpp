#include "tttlab/studies/theory/ttt_rate.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/studies/theory/local_regression.hpp"

namespace tttlab {

LrhWorldSpec RateConfig::default_base() {
  LrhWorldSpec w;
  w.d1 = 1024, w.d2 = 64, w.s = 4, w.classes = 0, w.topic_size = 0, w.in_topic = 1.0, w.noise = 0.5, w.seed = 0;
  return w;
}

void RateConfig::validate() const {
  require_input(base.classes == 0, "rate: the base world must be a regression world (classes=0)");
  require_input(!ks.empty() && k_fixed >= 1 && test >= 2 && train_per_topic >= 0,
                "rate: needs k values, k_fixed >= 1, test >= 2, train_per_topic >= 0");
  for (const auto& s : sweeps)
    require_input(s == "k" || s == "s" || s == "d1" || s == "sigma", "rate: unknown sweep '{}' (k, s, d1, sigma)", s);
  for (const int64_t k : ks) require_input(k >= 1, "rate: k={} (expected >= 1)", k);
  for (const double sigma : sigmas)
    require_input(std::isfinite(sigma) && sigma > 0, "rate: sigma={} (expected > 0: the sweep is on a log scale)",
                  sigma);
  require_input(lambda_scale > 0, "rate: lambda_scale={} (expected > 0)", lambda_scale);
}

RateFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  RateFit f;
  const size_t n = x.size();
  f.points = static_cast<int64_t>(n);
  if (n < 2) return f;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
  mx /= static_cast<double>(n), my /= static_cast<double>(n);
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
  f.slope = sxy / sxx;
  f.intercept = my - f.slope * mx;
  if (n > 2) {
    double rss = 0;
    for (size_t i = 0; i < n; ++i) {
      const double e = y[i] - f.intercept - f.slope * x[i];
      rss += e * e;
    }
    f.slope_std_error = std::sqrt(rss / static_cast<double>(n - 2) / sxx);
  }
  return f;
}

namespace {

ErrorStat stat_of(const torch::Tensor& pred, const torch::Tensor& truth) {
  const auto e = (pred - truth).pow(2);
  const double n = static_cast<double>(e.numel());
  return {e.mean().item<double>(), e.std().item<double>() / std::sqrt(n)};
}

}  // namespace

std::vector<RateRow> evaluate_rate_world(const LrhWorldSpec& spec, const std::vector<int64_t>& ks, double lambda_scale,
                                         const std::string& sweep) {
  const LrhWorld w = make_lrh_world(spec);
  const int64_t k_max = *std::max_element(ks.begin(), ks.end());
  require_input(k_max <= spec.train, "rate: k={} exceeds the {} training points", k_max, spec.train);
  const auto neighbors = knn_search(w.train.psi.to(torch::kFloat), w.test.psi.to(torch::kFloat), k_max).indices;
  const auto truth = w.test.clean;
  const auto global = global_least_squares_predictions(w.train.psi, w.train.target, w.test.psi);
  const auto nb_topics = w.train.topic.index_select(0, neighbors.reshape({-1})).reshape(neighbors.sizes());
  std::vector<RateRow> rows;
  for (const int64_t k : ks) {
    RateRow row;
    row.sweep = sweep, row.world = spec, row.k = k;
    row.same_topic_neighbors =
        nb_topics.slice(1, 0, k).eq(w.test.topic.unsqueeze(1)).to(torch::kDouble).mean().item<double>();
    const LocalRegressionData data{w.train.psi, w.train.target, w.test.psi, neighbors, k};
    row.errors["min_norm"] = stat_of(min_norm_local_predictions(data), truth);
    row.lambda = lambda_scale * std::max(spec.noise, 1e-3) *
                 std::sqrt(2.0 * std::log(static_cast<double>(spec.d1)) / static_cast<double>(k));
    // IHT keeps as many concepts as a topic has: the local truth's sparsity s' when in_topic = 1.
    const auto sparse =
        sparse_local_predictions(w.train, w.test, neighbors, k, row.lambda, spec.effective_topic_size());
    row.errors["lasso"] = stat_of(sparse.lasso, truth);
    row.errors["lasso_refit"] = stat_of(sparse.refit, truth);
    row.lasso_support = sparse.support_size.to(torch::kDouble).mean().item<double>();
    row.errors["iht"] = stat_of(sparse.iht, truth);
    row.errors["global"] = stat_of(global, truth);
    row.errors["average"] = stat_of(neighbor_average_predictions(data), truth);
    rows.push_back(std::move(row));
  }
  return rows;
}

RateResult run_ttt_rate(const RateConfig& cfg) {
  cfg.validate();
  struct Job {
    std::string sweep;
    LrhWorldSpec world;
    std::vector<int64_t> ks;
  };
  std::vector<Job> jobs;
  auto world_for = [&](LrhWorldSpec w, int64_t k_max) {
    w.classes = 0;
    const int64_t per_topic = cfg.train_per_topic > 0 ? cfg.train_per_topic : 4 * k_max;
    w.train = per_topic * w.topics();
    w.test = cfg.test;
    return w;
  };
  const int64_t k_max = *std::max_element(cfg.ks.begin(), cfg.ks.end());
  for (const auto& sweep : cfg.sweeps) {
    if (sweep == "k") jobs.push_back({"k", world_for(cfg.base, k_max), cfg.ks});
    if (sweep == "s")
      for (const int64_t s : cfg.ss) {
        LrhWorldSpec w = cfg.base;
        w.s = s, w.topic_size = 2 * s;
        jobs.push_back({"s", world_for(w, cfg.k_fixed), {cfg.k_fixed}});
      }
    if (sweep == "d1")
      for (const int64_t d1 : cfg.d1s) {
        LrhWorldSpec w = cfg.base;
        w.d1 = d1;
        jobs.push_back({"d1", world_for(w, cfg.k_fixed), {cfg.k_fixed}});
      }
    if (sweep == "sigma")
      for (const double sigma : cfg.sigmas) {
        LrhWorldSpec w = cfg.base;
        w.noise = sigma;
        jobs.push_back({"sigma", world_for(w, cfg.k_fixed), {cfg.k_fixed}});
      }
  }
  for (const auto& j : jobs) j.world.validate();
  RateResult out;
  ProgressBar bar("rate worlds", static_cast<int64_t>(jobs.size()), "world");
  for (const auto& j : jobs) {
    for (auto& row : evaluate_rate_world(j.world, j.ks, cfg.lambda_scale, j.sweep)) out.rows.push_back(std::move(row));
    bar.advance();
  }
  bar.finish();

  // Fits: log err vs log k (theory -1), log err vs log s (theory ~ +1), err vs log d1 (theory: a
  // positive slope), log err vs log σ (theory +2 for the local estimators).
  for (const auto& sweep : cfg.sweeps) {
    for (const auto& method : rate_methods()) {
      std::vector<double> x, y;
      for (const auto& r : out.rows) {
        if (r.sweep != sweep) continue;
        const double e = r.errors.at(method).mean;
        if (sweep == "k") {
          const int64_t k_min = cfg.slope_k_min > 0 ? cfg.slope_k_min : 2 * r.world.effective_topic_size();
          if (r.k < k_min) continue;
          x.push_back(std::log(static_cast<double>(r.k))), y.push_back(std::log(e));
        } else if (sweep == "s") {
          x.push_back(std::log(static_cast<double>(r.world.s))), y.push_back(std::log(e));
        } else if (sweep == "d1") {
          x.push_back(std::log(static_cast<double>(r.world.d1))), y.push_back(e);
        } else {
          x.push_back(std::log(r.world.noise)), y.push_back(std::log(e));
        }
      }
      if (x.size() < 2) continue;
      RateFit f = fit_line(x, y);
      f.sweep = sweep, f.method = method;
      f.x = sweep == "k"    ? "log k -> log error"
            : sweep == "s"  ? "log s -> log error"
            : sweep == "d1" ? "log d1 -> error"
                            : "log sigma -> log error";
      out.fits.push_back(f);
    }
  }
  return out;
}

nlohmann::json rate_json(const RateConfig& cfg, const RateResult& result) {
  nlohmann::json rows = nlohmann::json::array(), fits = nlohmann::json::array();
  for (const auto& r : result.rows) {
    nlohmann::json errors;
    for (const auto& [m, e] : r.errors) errors[m] = {{"mean", e.mean}, {"std_error", e.std_error}};
    rows.push_back({{"sweep", r.sweep},
                    {"world", r.world.to_string()},
                    {"d1", r.world.d1},
                    {"d2", r.world.d2},
                    {"s", r.world.s},
                    {"topic_size", r.world.effective_topic_size()},
                    {"sigma", r.world.noise},
                    {"k", r.k},
                    {"lambda", r.lambda},
                    {"same_topic_neighbors", r.same_topic_neighbors},
                    {"lasso_support", r.lasso_support},
                    {"errors", errors}});
  }
  for (const auto& f : result.fits)
    fits.push_back({{"sweep", f.sweep},
                    {"method", f.method},
                    {"fit", f.x},
                    {"slope", f.slope},
                    {"slope_std_error", f.slope_std_error},
                    {"intercept", f.intercept},
                    {"points", f.points}});
  return {{"experiment", "rate"},
          {"claim", "local sparse least squares: error <~ sigma^2 s log(d1/s) / k (Proposition 3)"},
          {"error", "mean over test points of (f(x*) - prediction)^2, f the noiseless ground truth"},
          {"config",
           {{"base", cfg.base.to_string()},
            {"train_per_topic", cfg.train_per_topic},
            {"test", cfg.test},
            {"ks", cfg.ks},
            {"ss", cfg.ss},
            {"d1s", cfg.d1s},
            {"sigmas", cfg.sigmas},
            {"k_fixed", cfg.k_fixed},
            {"slope_k_min", cfg.slope_k_min},
            {"lambda_scale", cfg.lambda_scale},
            {"sweeps", cfg.sweeps}}},
          {"rows", rows},
          {"fits", fits}};
}

}  // namespace tttlab
