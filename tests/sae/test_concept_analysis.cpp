// O1 and O3 as functions (hand-worked and analytic cases) and `tttlab reproduce table1` end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/studies/table1_report.hpp"
#include "tttlab/sae/concept_analysis.hpp"
#include "tttlab/sae/concept_recovery.hpp"

namespace fs = std::filesystem;
using namespace tttlab;

TEST(ConceptAnalysis, MeanNeighborCosineByHand) {
  const auto train = torch::tensor({{1.0, 0.0}, {0.0, 2.0}, {1.0, 1.0}, {0.0, 0.0}});
  const auto test = torch::tensor({{3.0, 0.0}, {1.0, 1.0}});
  const auto nb = torch::tensor({{0, 2, 1}, {1, 3, 0}}, torch::kLong);
  const auto cos = mean_neighbor_cosine(train, test, nb, 2);
  EXPECT_NEAR(cos[0].item<double>(), (1.0 + 1 / std::sqrt(2.0)) / 2, 1e-12);
  EXPECT_NEAR(cos[1].item<double>(), (1 / std::sqrt(2.0) + 0.0) / 2, 1e-12);  // a zero vector: cosine 0
}

TEST(ConceptAnalysis, TemperatureRecoversAScaleFactor) {
  torch::manual_seed(4);
  const auto ref = torch::randn({20, 7}, torch::kDouble);
  const auto t = calibrate_temperatures(ref, 2.5 * ref);  // softmax(2.5 ref / 2.5) = softmax(ref)
  EXPECT_TRUE(torch::allclose(t, torch::full({20}, 2.5, torch::kDouble), 1e-6, 1e-8));
  // A different shape: KL at the returned t is no larger than at nearby temperatures.
  const auto other = torch::randn({1, 7}, torch::kDouble);
  const double best = calibrate_temperatures(ref.slice(0, 0, 1), other)[0].item<double>();
  auto kl = [&](double temp) {
    const auto p = torch::softmax(ref[0], 0);
    return (p * (p.log() - torch::log_softmax(other[0] / temp, 0))).sum().item<double>();
  };
  EXPECT_LE(kl(best), kl(best * 1.01) + 1e-12);
  EXPECT_LE(kl(best), kl(best / 1.01) + 1e-12);
}

// A uniform reference is matched best at t -> infinity, so its fit ends at the search bound; such fits
// are counted, and the report gives the median, which they cannot drag (their mean would be ~400 here).
TEST(ConceptAnalysis, TemperaturesClampedAtTheSearchBoundAreCountedNotAveraged) {
  torch::manual_seed(6);
  const auto other = torch::randn({5, 6}, torch::kDouble);
  auto reference = other / 0.8;
  reference.slice(0, 0, 2).zero_();  // two uniform references
  const auto t = calibrate_temperatures(reference, other);
  EXPECT_NEAR(t[0].item<double>(), kMaxCalibrationTemperature, 1e-3);
  EXPECT_NEAR(t[4].item<double>(), 0.8, 1e-6);
  const TemperatureSummary s = summarize_temperatures(t);
  EXPECT_EQ(s.n, 5);
  EXPECT_EQ(s.at_upper_bound, 2);
  EXPECT_EQ(s.at_lower_bound, 0);
  EXPECT_NEAR(s.median, 0.8, 1e-6);

  const nlohmann::json j = temperature_json(t);
  EXPECT_EQ(j["clamped_at_upper_bound"], 2);
  EXPECT_EQ(j["clamped_at_lower_bound"], 0);
  EXPECT_NEAR(j["median"].get<double>(), 0.8, 1e-6);
  EXPECT_FALSE(j.contains("mean"));
  EXPECT_FALSE(j.contains("std"));
  EXPECT_EQ(temperature_text(t), "temperature median 0.8 (2 of 5 fits clamped at the search bound 1000)");
  EXPECT_EQ(temperature_text(t.slice(0, 2)), "temperature median 0.8");
  const auto low = torch::tensor({kMinCalibrationTemperature, 0.5, 0.7}, torch::kDouble);
  EXPECT_EQ(temperature_text(low), "temperature median 0.5 (1 of 3 fits clamped at the search bound 0.001)");
}

TEST(ConceptAnalysis, AgreementOfIdenticalAndOfScaledModels) {
  torch::manual_seed(5);
  const auto logits = torch::randn({50, 12}, torch::kDouble) * 3;
  BootstrapConfig b;
  b.resamples = 100;
  const ProbabilityAgreement same = probability_agreement(logits, 0.5 * logits, 10, b);
  EXPECT_EQ(same.top, 10);
  EXPECT_DOUBLE_EQ(same.agreement, 1.0);
  for (int64_t i = 0; i < 10; ++i) EXPECT_LT(same.rel_tv[i], 1e-5) << i;
  // The ranks follow the (calibrated) second model: mean probabilities decrease with the rank.
  for (int64_t i = 1; i < 10; ++i) EXPECT_LE(same.mean_other[i], same.mean_other[i - 1]);
  // Unrelated models disagree: lower agreement and a large relative TV at rank 1.
  const ProbabilityAgreement diff = probability_agreement(logits, torch::randn({50, 12}, torch::kDouble) * 3, 10, b);
  EXPECT_LT(diff.agreement, 0.4);
  EXPECT_GT(diff.rel_tv[0], 0.3);
  EXPECT_LE(diff.agreement_ci.lo, diff.agreement);
  EXPECT_GE(diff.agreement_ci.hi, diff.agreement);
  EXPECT_LE(diff.rel_tv_ci[0].lo, diff.rel_tv[0]);
}

namespace {

struct CliResult {
  int code;
  std::string err;
};

CliResult tttlab_cli(const std::string& args, const fs::path& dir) {
  const fs::path err = dir / "stderr.txt";
  const int status = std::system((std::string(TTTLAB_BINARY) + " " + args + " >/dev/null 2>" + err.string()).c_str());
  return {WEXITSTATUS(status), test::read_bytes(err)};
}

}  // namespace

TEST(ReproduceTable1, RunsOnAnEmbeddingFolderAndWritesTheContract) {
  const test::TempDir dir;
  const fs::path data = dir / "emb", out = dir / "out";
  fs::create_directories(data);
  // Three classes, each a cluster of sparse combinations of its own 4 directions among 12 in 8-D.
  torch::manual_seed(12);
  const auto dict = torch::randn({12, 8});
  torch::Tensor test_codes;
  auto make = [&](int64_t n) {
    const auto y = torch::randint(0, 3, {n}, torch::kLong);
    auto codes = torch::zeros({n, 12});
    const auto which = y.unsqueeze(1) * 4 + torch::randint(0, 4, {n, 2}, torch::kLong);
    codes.scatter_(1, which, torch::rand({n, 2}) + 0.5);
    test_codes = codes;
    return std::make_pair(torch::matmul(codes, dict) + 0.05 * torch::randn({n, 8}), y);
  };
  auto [xtr, ytr] = make(240);
  auto [xte, yte] = make(60);
  write_npy(dir / "concepts.npy", dict);
  write_npy(dir / "test_codes.npy", test_codes);
  write_npy(data / "train_features.npy", xtr);
  write_npy(data / "train_labels.npy", ytr);
  write_npy(data / "test_features.npy", xte);
  write_npy(data / "test_labels.npy", yte);
  const std::string common = "reproduce table1 --quiet --threads 1 --device cpu --data npy:" + data.string() +
                             " --sae-latent-dim 24 --sae-k 2 --sae-k-start 6 --sae-k-anneal-steps 20 --sae-epochs 8"
                             " --sae-batch-size 60 --sae-warmup-steps 5 --sae-pre-bias --head-epochs 20"
                             " --head-batch-size 32 --k 20 --steps 20 --lr 0.05 --penalty 0.01 --bootstrap 50";
  const CliResult r = tttlab_cli(common + " --out " + out.string(), dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(test::read_bytes(out / "results.json"));
  for (const char* m : {"global_psi", "ttt_psi", "global_psi_hat", "ttt_psi_hat", "global_phi_hat", "ttt_phi_hat",
                        "masked_ttt_phi_hat", "nonadaptive_ttt_phi_hat"}) {
    ASSERT_TRUE(j["methods"].contains(m)) << m;
    const double acc = j["methods"][m]["accuracy"];
    EXPECT_GT(acc, 0.5) << m;  // three well-separated classes: far above chance (1/3)
    EXPECT_LE(j["methods"][m]["ci90"][0].get<double>(), acc);
    EXPECT_GE(j["methods"][m]["ci90"][1].get<double>(), acc);
    EXPECT_EQ(j["methods"][m]["n"], 60);
  }
  EXPECT_TRUE(j["comparisons"].contains("ttt_psi_hat - global_psi_hat"));
  EXPECT_EQ(j["table1"]["phi_hat"]["ttt"], j["methods"]["ttt_phi_hat"]["accuracy"]);
  for (const char* space : {"psi", "psi_hat", "phi_hat"}) {
    const double c = j["o1"]["mean_cosine_in_phi_hat"][space]["mean"];
    EXPECT_GT(c, 0.0);
    EXPECT_LE(c, 1.0 + 1e-9);
  }
  EXPECT_LE(j["o2"]["kept_test_concepts"].get<double>(), j["o2"]["test_concepts"].get<double>());
  EXPECT_LE(j["o2"]["mask_in_neighborhood"].get<double>(), j["o2"]["neighborhood_concepts"].get<double>());
  EXPECT_GE(j["o3"]["agreement"].get<double>(), 0.0);
  EXPECT_EQ(j["o3"]["ranks"].size(), 3u);  // top 10 capped at C = 3
  EXPECT_EQ(read_npy(out / "o2_mask_size.npy").size(0), 60);
  EXPECT_TRUE(fs::exists(out / "sae" / "sae.safetensors"));
  EXPECT_TRUE(fs::exists(out / "fig2_neighbor_cosine.gp"));
  EXPECT_TRUE(fs::exists(out / "fig3_top_probabilities.dat"));
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    EXPECT_TRUE(fs::exists(out / "fig2_neighbor_cosine.png"));
    EXPECT_TRUE(fs::exists(out / "fig3_top_probabilities.svg"));
  }
  // The synthetic world's true concepts: recovery scores the SAE's dictionary and the masks.
  const CliResult rec =
      tttlab_cli("sae recovery --sae " + (out / "sae").string() + " --true-concepts " +
                     (dir / "concepts.npy").string() + " --table1 " + out.string() + " --true-test-codes " +
                     (dir / "test_codes.npy").string() + " --out " + (dir / "rec").string(),
                 dir.path());
  ASSERT_EQ(rec.code, 0) << rec.err;
  const auto rj = nlohmann::json::parse(test::read_bytes(dir / "rec" / "recovery.json"));
  EXPECT_EQ(rj["true_concepts"], 12);
  const double best = rj["dictionary"]["mean_best_cosine"];
  EXPECT_GT(best, 0.0);
  EXPECT_LE(best, 1.0 + 1e-9);
  EXPECT_TRUE(rj["masks"]["adaptive_mask"].contains("mean_recall"));
  EXPECT_EQ(read_npy(dir / "rec" / "best_cosine.npy").size(0), 12);

  // A second run reuses the trained SAE (same settings) and gives the same table.
  const CliResult again = tttlab_cli(common + " --out " + out.string(), dir.path());
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(test::read_bytes(out / "results.json"))["methods"], j["methods"]);

  // Bad input: exit 2, one line, no results.json.
  const fs::path bad = dir / "bad";
  for (const std::string& args : {common + " --penalty -1", common + " --k 1000", common + " --temperature 0",
                                  std::string("reproduce table1 --quiet --data npy:") + (dir / "none").string()}) {
    const CliResult b = tttlab_cli(args + " --out " + bad.string(), dir.path());
    EXPECT_EQ(b.code, 2) << args << ": " << b.err;
    EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 1) << b.err;
    EXPECT_FALSE(fs::exists(bad / "results.json"));
  }
}

TEST(ConceptRecovery, ExactDictionaryAndMaskScoresByHand) {
  torch::manual_seed(8);
  const auto truth = torch::randn({5, 6}, torch::kDouble);
  // Decoder: the true directions (scaled, shuffled) plus three random units.
  auto decoder = torch::cat({truth.index_select(0, torch::tensor({3, 0, 4, 1, 2}, torch::kLong)) * 2.0,
                             torch::randn({3, 6}, torch::kDouble)})
                     .t()
                     .contiguous();  // [6, 8]
  const DictionaryRecovery d = dictionary_recovery(decoder, truth);
  EXPECT_TRUE(torch::allclose(d.best_cosine, torch::ones({5}, torch::kDouble), 1e-12, 1e-12));
  EXPECT_TRUE(torch::equal(d.best_unit, torch::tensor({1, 3, 4, 0, 2}, torch::kLong)));
  EXPECT_DOUBLE_EQ(d.share_above_0_9, 1.0);
  EXPECT_EQ(concept_rows(truth.t(), 6, "A").sizes(), truth.sizes());  // columns are accepted too
  test::expect_input_error([&] { concept_rows(torch::zeros({4, 7}), 6, "A.npy"); }, "A.npy");
  // Point 0: units {0 (-> concept 3), 1 (-> 0)}, true {0, 2}: precision 1/2, recall 1/2.
  // Point 1: no unit: precision undefined, recall 0.
  auto units = torch::zeros({2, 8}, torch::kBool);
  units[0][0] = true;
  units[0][1] = true;
  auto codes = torch::zeros({2, 5});
  codes[0][0] = 1;
  codes[0][2] = 1;
  codes[1][4] = 1;
  const UnitRecovery u = unit_recovery(units, d, codes, 0.99);
  EXPECT_DOUBLE_EQ(u.precision[0].item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(u.recall[0].item<double>(), 0.5);
  EXPECT_TRUE(std::isnan(u.precision[1].item<double>()));
  EXPECT_DOUBLE_EQ(u.recall[1].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(u.mean_precision, 0.5);
  EXPECT_DOUBLE_EQ(u.mean_recall, 0.25);
}
