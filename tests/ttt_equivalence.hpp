#pragma once
// One equivalence test over the TTT engine's paths: every path the build has x every setting, each
// run's adapted heads and predictions compared with the reference path's and with the independent
// float64 oracle (ttt_problem.hpp), in the manner of FAISS's compareIndices or ggml's
// test-backend-ops. Include this header in exactly one file of a test program and instantiate
// LocalFitEquivalence there with the cases of local_fit_equivalence_cases(...): tests/ttt takes the
// CPU paths, tests/gpu (CUDA builds) the CUDA ones.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tttlab/core/progress.hpp"
#include "tttlab/ttt/local_fit.hpp"
#include "ttt_problem.hpp"

namespace tttlab::test {

// The settings every path runs under. LargeEps makes eps larger than sqrt(v), where Adam's update
// stops being invariant to the gradient's scale: a gradient missing its 1/k shows there (and under
// weight decay, which adds a term of fixed scale), while erm and sequential cannot see it.
enum class FitSetting { Erm, Sequential, WeightDecay, LargeEps };

inline std::string setting_name(FitSetting s) {
  switch (s) {
    case FitSetting::Erm:
      return "erm";
    case FitSetting::Sequential:
      return "sequential";
    case FitSetting::WeightDecay:
      return "weight_decay";
    case FitSetting::LargeEps:
      return "large_eps";
  }
  return "unknown";
}

struct PathCase {
  LocalFitPath path;
  FitSetting setting;
};

inline LocalFitConfig equivalence_config(const PathCase& pc) {
  LocalFitConfig cfg;
  cfg.k = 12;
  cfg.steps = 30;
  cfg.lr = 0.05;
  cfg.keep_heads = true;
  cfg.points_per_batch = 5;  // 13 points: batches of 5, 5 and 3
  cfg.logits_at_steps = {0, 7, 30};  // the global head, an intermediate step and the last one
  switch (pc.setting) {
    case FitSetting::Erm:
      break;
    case FitSetting::Sequential:
      cfg.mode = LocalFitMode::Sequential;  // 30 steps wrap around the 12 neighbours 2.5 times
      cfg.lr = 0.03;
      break;
    case FitSetting::WeightDecay:
      cfg.weight_decay = 0.05;
      cfg.beta1 = 0.8;
      cfg.beta2 = 0.99;
      cfg.eps = 1e-6;
      break;
    case FitSetting::LargeEps:
      cfg.eps = 0.1;
      break;
  }
  if (pc.path == LocalFitPath::BatchedCuda || pc.path == LocalFitPath::Fused ||
      pc.path == LocalFitPath::FusedRowSpace) {
    cfg.device = torch::Device(torch::kCUDA, 0);
    cfg.fused = pc.path != LocalFitPath::BatchedCuda;
  }
  return cfg;
}

// The cases among `paths` x every setting that the engine really runs: a path's config must select
// that path (local_fit_path), so e.g. the row-space kernel is not listed under weight decay.
inline std::vector<PathCase> local_fit_equivalence_cases(const std::vector<LocalFitPath>& paths) {
  std::vector<PathCase> cases;
  for (const LocalFitPath path : paths) {
    for (const FitSetting s :
         {FitSetting::Erm, FitSetting::Sequential, FitSetting::WeightDecay, FitSetting::LargeEps}) {
      const PathCase pc{path, s};
      if (path == LocalFitPath::Reference || local_fit_path(equivalence_config(pc), torch::kFloat) == path) {
        cases.push_back(pc);
      }
    }
  }
  return cases;
}

inline std::string path_case_name(const ::testing::TestParamInfo<PathCase>& info) {
  std::string name = to_string(info.param.path) + "_" + setting_name(info.param.setting);
  for (char& ch : name) {
    if (ch == '-') ch = '_';
  }
  return name;
}

class LocalFitEquivalence : public ::testing::TestWithParam<PathCase> {
 protected:
  void SetUp() override {
    set_progress_enabled(false);
    if (equivalence_config(GetParam()).device.is_cuda() && !torch::cuda::is_available()) {
      GTEST_SKIP() << "no CUDA device";
    }
  }

  // Runs the case's path on the problem of `dtype` and compares it with the reference on the CPU
  // (same dtype) and with the float64 oracle.
  void check(const LocalFitConfig& cfg, torch::ScalarType dtype) {
    const PathCase pc = GetParam();
    SCOPED_TRACE(::testing::Message() << to_string(pc.path) << " / " << setting_name(pc.setting) << " / "
                                      << (dtype == torch::kDouble ? "float64" : "float32"));
    TttProblemSpec spec;
    spec.k = cfg.k;
    spec.dtype = dtype;
    const TttProblem p = make_ttt_problem(spec);
    const bool is_reference = pc.path == LocalFitPath::Reference;
    if (!is_reference) {
      ASSERT_EQ(to_string(local_fit_path(cfg, dtype)), to_string(pc.path));
    }

    const LocalFitResult out =
        is_reference ? local_fit_reference(p.head, p.data, cfg) : local_fit_batched(p.head, p.data, cfg);
    LocalFitConfig cpu_cfg = cfg;
    cpu_cfg.device = torch::kCPU;
    const LocalFitResult ref = local_fit_reference(p.head, p.data, cpu_cfg);
    const OracleHeads oracle = oracle_local_fit(p.head, p.data, cfg);

    const bool f64 = dtype == torch::kDouble;
    if (!is_reference) {
      const double tol = f64 ? kFloat64Tol : cfg.device.is_cuda() ? kCudaFloat32Tol : kFloat32Tol;
      EXPECT_LT(max_relative_difference(out.weights, ref.weights), tol);
      EXPECT_LT(max_relative_difference(out.biases, ref.biases), tol);
      EXPECT_LT((out.logits - ref.logits).abs().max().item<double>(), f64 ? kFloat64Tol : kFloat32LogitAbsTol);
      EXPECT_TRUE(torch::equal(out.pred, ref.pred)) << out.pred << ref.pred;
      EXPECT_LT((out.ce - ref.ce).abs().max().item<double>(), f64 ? kFloat64Tol : kFloat32LogitAbsTol);
      EXPECT_LT((out.step_logits - ref.step_logits).abs().max().item<double>(),
                f64 ? kFloat64Tol : kFloat32LogitAbsTol);
    }
    // The recorded logits: the global head's at step 0 and the final ones at the last step.
    ASSERT_EQ(out.step_logits.size(0), 3);
    EXPECT_LT((out.step_logits[0] - p.head.logits(p.data.test_x).to(torch::kCPU)).abs().max().item<double>(),
              f64 ? kFloat64Tol : kFloat32LogitAbsTol);
    EXPECT_LT((out.step_logits[2] - out.logits).abs().max().item<double>(), f64 ? 1e-12 : 1e-6);
    const double oracle_tol = f64 ? kFloat64Tol : kFloat32VsFloat64Tol;
    EXPECT_LT(max_relative_difference(out.weights, oracle.weights), oracle_tol);
    EXPECT_LT(max_relative_difference(out.biases, oracle.biases), oracle_tol);
    // The predictions are the adapted heads' argmax on the test points.
    const auto oracle_logits =
        torch::bmm(oracle.weights, p.data.test_x.to(torch::kCPU, torch::kDouble).unsqueeze(2)).squeeze(2) +
        oracle.biases;
    EXPECT_GE(out.pred.eq(oracle_logits.argmax(1)).to(torch::kDouble).mean().item<double>(), f64 ? 1.0 : 0.9);
    // The heads moved well away from the global head: the comparisons are not between copies of it.
    EXPECT_GT((oracle.weights - p.head.weight.to(torch::kCPU, torch::kDouble)).abs().max().item<double>(), 0.2);
  }
};

TEST_P(LocalFitEquivalence, AdaptedHeadsAndPredictionsMatchTheReferenceAndTheOracle) {
  const PathCase pc = GetParam();
  const LocalFitConfig cfg = equivalence_config(pc);
  check(cfg, torch::kFloat);
  // float64 wherever the path serves it (the fused kernels are float32 only).
  if (pc.path == LocalFitPath::Reference || local_fit_path(cfg, torch::kDouble) == pc.path) check(cfg, torch::kDouble);
}

}  // namespace tttlab::test
