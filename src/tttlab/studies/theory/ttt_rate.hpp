#pragma once
// The TTT rate (Proposition 2/3): on regression worlds, the error (f(x*) - prediction)² of local least
// squares on the k nearest neighbours (min-norm, and the sparse estimator of equation (6)) as k, s, d1
// and σ vary, beside the global least-squares head and averaging over the neighbours (Appendix A.2).
// Theory: error ≲ σ² s log(d1/s) / k for the local sparse estimator — slope -1 in k on a log-log
// scale, linear growth in s, logarithmic in d1, σ² in the noise.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tttlab/data/lrh_world.hpp"

namespace tttlab {

struct RateConfig {
  LrhWorldSpec base = default_base();  // a regression world (classes = 0); train and test are set per sweep
  int64_t train_per_topic = 0;         // training points per topic; 0: 4 x the largest k of the sweep
  int64_t test = 1000;                 // test points per world
  std::vector<int64_t> ks{8, 16, 32, 64, 128, 256};
  std::vector<int64_t> ss{2, 4, 8, 16};  // topic_size follows as 2 s
  std::vector<int64_t> d1s{256, 1024, 4096};
  std::vector<double> sigmas{0.1, 0.3, 1.0};
  int64_t k_fixed = 128;    // k of the s, d1 and σ sweeps
  int64_t slope_k_min = 0;  // fit the k slope on k >= this; 0: 2 x topic_size
  // Lasso λ = lambda_scale · σ · sqrt(2 log(d1) / k). The textbook constant 1 over-shrinks in these
  // worlds (positive, correlated concept columns of squared norm ~0.5 k, Gaussian coefficients):
  // docs/theory.md shows both; 0.1 is the default.
  double lambda_scale = 0.1;
  std::vector<std::string> sweeps{"k", "s", "d1", "sigma"};
  void validate() const;
  static LrhWorldSpec default_base();
};

struct ErrorStat {
  double mean = 0, std_error = 0;
};

struct RateRow {
  std::string sweep;  // k | s | d1 | sigma
  LrhWorldSpec world;
  int64_t k = 0;
  double lambda = 0;
  double same_topic_neighbors = 0;          // fraction of neighbours from the test point's topic
  double lasso_support = 0;                 // mean number of concepts the Lasso kept
  std::map<std::string, ErrorStat> errors;  // rate_methods()
};

struct RateFit {
  std::string sweep, method, x;  // x: the regressor, e.g. "log k"
  double slope = 0, slope_std_error = 0, intercept = 0;
  int64_t points = 0;
};

struct RateResult {
  std::vector<RateRow> rows;
  std::vector<RateFit> fits;
};

inline const std::vector<std::string>& rate_methods() {
  static const std::vector<std::string> m{"min_norm", "lasso", "lasso_refit", "iht", "global", "average"};
  return m;
}

// Ordinary least squares y = a + b x; returns {b, se(b), a}.
RateFit fit_line(const std::vector<double>& x, const std::vector<double>& y);

// One world, every estimator at each k of `ks` (one neighbour search with the largest k).
std::vector<RateRow> evaluate_rate_world(const LrhWorldSpec& world, const std::vector<int64_t>& ks, double lambda_scale,
                                         const std::string& sweep);

RateResult run_ttt_rate(const RateConfig& cfg);

nlohmann::json rate_json(const RateConfig& cfg, const RateResult& result);

}  // namespace tttlab
