// `tttlab run`'s probabilities: calibration in results.json and the table, --save-probs, and a test
// set without labels (predictions and probabilities, no metrics).
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/studies/study.hpp"
#include "tttlab/studies/study_report.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using tttlab::read_npy;
using tttlab::test::CliRun;

namespace {

json read_json(const fs::path& p) { return json::parse(tttlab::test::read_bytes(p)); }

std::string run_args(const fs::path& data, const fs::path& out, const std::string& extra = "") {
  return "run --quiet --threads 2 --data npy:" + data.string() + " --out " + out.string() +
         " --k 20 --steps 30 --lr 0.1 --head-epochs 500 --head-batch-size 64 --bootstrap 200 " + extra;
}

// ECE with 15 bins written out independently of eval/calibration.cpp: bin b holds confidences in
// (b/15, (b+1)/15].
double ece_15(const torch::Tensor& probs, const torch::Tensor& labels) {
  const auto p = probs.to(torch::kDouble);
  std::vector<double> n(15), conf(15), hit(15);
  for (int64_t i = 0; i < p.size(0); ++i) {
    const double c = p[i].max().item<double>();
    int b = 0;
    while (b < 14 && c > (b + 1) / 15.0) ++b;
    n[b] += 1;
    conf[b] += c;
    hit[b] += p[i].argmax().item<int64_t>() == labels[i].item<int64_t>() ? 1 : 0;
  }
  double e = 0;
  for (int b = 0; b < 15; ++b) e += std::abs(hit[b] - conf[b]) / static_cast<double>(p.size(0));
  return e;
}

class CliProbabilities : public ::testing::Test {
 protected:
  void SetUp() override { tttlab::test::write_xor_blobs(data_, 400, 80); }
  CliRun tttlab(const std::string& args) { return tttlab::test::run_tttlab(args, root_); }

  const tttlab::test::TempDir dir_;
  const fs::path root_ = dir_.path();
  const fs::path data_ = root_ / "emb";
};

}  // namespace

TEST_F(CliProbabilities, CalibrationInResultsAndSavedProbabilities) {
  const fs::path out = root_ / "out";
  const CliRun r = tttlab(run_args(data_, out, "--save-probs"));
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = read_json(out / "results.json");
  EXPECT_EQ(j["labelled"], true);
  const auto labels = read_npy(out / "test_labels.npy");
  for (const char* name : {"global", "ttt"}) {
    const auto& m = j["methods"][name];
    const auto probs = read_npy(out / fmt::format("probs_{}.npy", name));
    ASSERT_EQ(probs.scalar_type(), torch::kFloat) << name;
    ASSERT_EQ(probs.sizes(), (std::vector<int64_t>{80, 2})) << name;
    EXPECT_TRUE(torch::allclose(probs.sum(1), torch::ones({80}), 1e-5, 1e-5)) << name;
    EXPECT_TRUE(torch::equal(probs.argmax(1), read_npy(out / fmt::format("pred_{}.npy", name)))) << name;
    EXPECT_EQ(j["outputs"][fmt::format("probs_{}", name)], fmt::format("probs_{}.npy", name));
    // The file's probabilities give results.json's numbers.
    const auto onehot = torch::one_hot(labels, 2).to(torch::kDouble);
    const double brier = (probs.to(torch::kDouble) - onehot).pow(2).sum(1).mean().item<double>();
    EXPECT_NEAR(m["brier"].get<double>(), brier, 1e-9) << name;
    EXPECT_NEAR(m["ece"].get<double>(), ece_15(probs, labels), 1e-9) << name;
    const double nll = read_npy(out / fmt::format("ce_{}.npy", name)).mean().item<double>();
    EXPECT_NEAR(m["nll"].get<double>(), nll, 1e-12) << name;
    EXPECT_EQ(m["nll"], m["mean_ce"]);
    EXPECT_GT(m["ece"].get<double>(), 0.0);  // not a placeholder
  }
  // Majority vote has no probabilities.
  for (const char* key : {"ece", "nll", "brier", "mean_ce"}) EXPECT_TRUE(j["methods"]["majority"][key].is_null());
  EXPECT_FALSE(fs::exists(out / "probs_majority.npy"));
  // TTT - global: the NLL difference from the per-point files, with its paired CI.
  const auto& c = j["comparisons"]["ttt - global"];
  const double diff =
      read_npy(out / "ce_ttt.npy").mean().item<double>() - read_npy(out / "ce_global.npy").mean().item<double>();
  EXPECT_NEAR(c["nll_diff"].get<double>(), diff, 1e-12);
  EXPECT_LT(diff, 0.0);  // XOR: the local heads fit far better than the global one
  // The paired percentile interval of a mean difference lies around it.
  EXPECT_LT(c["nll_ci90"][0].get<double>(), diff);
  EXPECT_GT(c["nll_ci90"][1].get<double>(), diff);
  EXPECT_TRUE(j["comparisons"]["majority - global"]["nll_diff"].is_null());
  // The table shows calibration and the NLL difference.
  for (const char* piece : {"ECE", "Brier", "NLL"}) EXPECT_NE(r.out.find(piece), std::string::npos) << r.out;

  // Without --save-probs, a reused folder loses the earlier run's probabilities.
  const CliRun again = tttlab(run_args(data_, out));
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_FALSE(fs::exists(out / "probs_global.npy"));
  EXPECT_FALSE(fs::exists(out / "probs_ttt.npy"));
  EXPECT_FALSE(read_json(out / "results.json")["outputs"].contains("probs_ttt"));
}

TEST_F(CliProbabilities, UnlabelledTestSetPredictsWithoutMetrics) {
  const fs::path labelled_out = root_ / "labelled";
  ASSERT_EQ(tttlab(run_args(data_, labelled_out, "--save-probs")).code, 0);

  const fs::path unlabelled = root_ / "unlabelled";
  fs::create_directories(unlabelled);
  for (const char* f : {"train_features.npy", "train_labels.npy", "test_features.npy"}) {
    fs::copy_file(data_ / f, unlabelled / f);
  }
  // Into the labelled run's folder: its test_labels.npy and ce_*.npy must not survive.
  const fs::path out = labelled_out;
  const std::vector<std::string> labelled_preds = {"pred_global.npy",  "pred_majority.npy", "pred_ttt.npy",
                                                   "probs_global.npy", "probs_ttt.npy",     "neighbors.npy"};
  std::vector<torch::Tensor> before;
  for (const auto& f : labelled_preds) before.push_back(read_npy(out / f));

  const CliRun r = tttlab(run_args(unlabelled, out, "--save-probs"));
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = read_json(out / "results.json");
  EXPECT_EQ(j["labelled"], false);
  for (const char* name : {"global", "majority", "ttt"}) {
    EXPECT_EQ(j["methods"][name], json({{"n", 80}})) << name;
  }
  EXPECT_TRUE(j["comparisons"].empty());
  // Nothing of TTT depends on the test labels: the same predictions, probabilities and neighbours.
  for (size_t i = 0; i < labelled_preds.size(); ++i) {
    EXPECT_TRUE(torch::equal(read_npy(out / labelled_preds[i]), before[i])) << labelled_preds[i];
  }
  for (const char* gone : {"test_labels.npy", "ce_global.npy", "ce_ttt.npy"}) {
    EXPECT_FALSE(fs::exists(out / gone)) << gone;
    EXPECT_FALSE(j["outputs"].contains(fs::path(gone).stem().string())) << gone;
  }
  const std::string line = "the test set has no labels, so no metrics were computed (80 test points predicted)\n";
  EXPECT_NE(r.out.find(line), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("accuracy"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

// The library call behind it: run_study on an unlabelled folder.
TEST_F(CliProbabilities, RunStudyWithoutTestLabels) {
  fs::remove(data_ / "test_labels.npy");
  tttlab::StudyConfig cfg;
  cfg.data = "npy:" + data_.string();
  cfg.ttt.k = 20;
  cfg.ttt.steps = 10;
  cfg.head_train.epochs = 5;
  const tttlab::StudyResult result = tttlab::run_study(cfg);
  EXPECT_FALSE(result.test_labels.defined());
  EXPECT_EQ(result.num_test, 80);
  ASSERT_EQ(result.methods.size(), 3u);
  for (const auto& m : result.methods) {
    EXPECT_EQ(m.pred.size(0), 80) << m.name;
    EXPECT_FALSE(m.ce.defined()) << m.name;
    EXPECT_EQ(m.probs.defined(), m.name != "majority") << m.name;
  }
  const tttlab::Summary summary = tttlab::summarize_study(result, cfg.bootstrap);
  EXPECT_TRUE(summary.methods.empty());
  const json j = tttlab::study_results_json(cfg, result, summary);
  EXPECT_EQ(j["labelled"], false);
  EXPECT_FALSE(j["methods"]["ttt"].contains("accuracy"));
}
