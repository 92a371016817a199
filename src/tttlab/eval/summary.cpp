#include "tttlab/eval/summary.hpp"

#include "tttlab/eval/calibration.hpp"
#include "tttlab/eval/metrics.hpp"

namespace tttlab {

Summary summarize(const std::vector<MethodPredictions>& methods, const torch::Tensor& labels,
                  const BootstrapConfig& cfg, const std::string& baseline) {
  Summary s;
  torch::Tensor baseline_correct, baseline_ce;
  for (const auto& m : methods) {
    if (m.name == baseline) {
      baseline_correct = correct(m.pred, labels);
      baseline_ce = m.ce;
    }
  }
  for (const auto& m : methods) {
    const auto c = correct(m.pred, labels);
    MethodSummary row;
    row.name = m.name;
    row.accuracy = tttlab::mean(c);
    row.ci = bootstrap_ci(c, cfg);
    if (m.ce.defined()) row.mean_ce = tttlab::mean(m.ce);
    if (m.probs.defined()) {
      row.ece = expected_calibration_error(m.probs, labels);
      row.brier = brier_score(m.probs, labels);
    }
    row.n = c.size(0);
    s.methods.push_back(row);
    if (baseline_correct.defined() && m.name != baseline) {
      Comparison cmp{m.name + " - " + baseline, tttlab::mean(c) - tttlab::mean(baseline_correct),
                     paired_bootstrap_ci(c, baseline_correct, cfg)};
      if (m.ce.defined() && baseline_ce.defined()) {
        cmp.nll_diff = tttlab::mean(m.ce) - tttlab::mean(baseline_ce);
        cmp.nll_ci = paired_bootstrap_ci(m.ce, baseline_ce, cfg);
      }
      s.comparisons.push_back(cmp);
    }
  }
  return s;
}

}  // namespace tttlab
