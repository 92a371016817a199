#include "tttlab/eval/summary.hpp"

#include "tttlab/eval/metrics.hpp"

namespace tttlab {

Summary summarize(const std::vector<MethodPredictions>& methods, const torch::Tensor& labels,
                  const BootstrapConfig& cfg, const std::string& baseline) {
  Summary s;
  torch::Tensor baseline_correct;
  for (const auto& m : methods) {
    if (m.name == baseline) baseline_correct = correct(m.pred, labels);
  }
  for (const auto& m : methods) {
    const auto c = correct(m.pred, labels);
    MethodSummary row;
    row.name = m.name;
    row.accuracy = tttlab::mean(c);
    row.ci = bootstrap_ci(c, cfg);
    if (m.ce.defined()) row.mean_ce = tttlab::mean(m.ce);
    row.n = c.size(0);
    s.methods.push_back(row);
    if (baseline_correct.defined() && m.name != baseline) {
      s.comparisons.push_back({m.name + " - " + baseline, tttlab::mean(c) - tttlab::mean(baseline_correct),
                               paired_bootstrap_ci(c, baseline_correct, cfg)});
    }
  }
  return s;
}

}  // namespace tttlab
