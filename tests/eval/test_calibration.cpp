// Calibration metrics against values worked out by hand, and the summary rows that carry them.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/eval/calibration.hpp"
#include "tttlab/eval/summary.hpp"

namespace {

using tttlab::test::expect_input_error;

// Four two-class points (float64, so that no probability sits on a bin edge by rounding):
//   0: [0.90, 0.10], y=0  confidence 0.90, right  bin 13 = (13/15, 14/15]
//   1: [0.10, 0.90], y=0  confidence 0.90, wrong  bin 13
//   2: [0.75, 0.25], y=0  confidence 0.75, right  bin 11 = (11/15, 12/15]
//   3: [0.55, 0.45], y=1  confidence 0.55, wrong  bin  8 = ( 8/15,  9/15]
torch::Tensor four_probs() {
  return torch::tensor({0.90, 0.10, 0.10, 0.90, 0.75, 0.25, 0.55, 0.45}, torch::kDouble).reshape({4, 2});
}
torch::Tensor four_labels() { return torch::tensor({0, 0, 0, 1}, torch::kLong); }

TEST(Calibration, ExpectedCalibrationErrorHandWorked) {
  // bin 13: 2 points, accuracy 1/2, mean confidence 0.90 -> 2/4 * |0.5 - 0.9|  = 0.2
  // bin 11: 1 point,  accuracy 1,   confidence 0.75      -> 1/4 * |1 - 0.75|   = 0.0625
  // bin  8: 1 point,  accuracy 0,   confidence 0.55      -> 1/4 * |0 - 0.55|   = 0.1375
  const double expected = 2.0 / 4 * 0.4 + 1.0 / 4 * 0.25 + 1.0 / 4 * 0.55;
  EXPECT_NEAR(expected, 0.4, 1e-15);
  EXPECT_NEAR(tttlab::expected_calibration_error(four_probs(), four_labels()), expected, 1e-12);
  // One bin: |accuracy - mean confidence| over all points = |2/4 - (0.9 + 0.9 + 0.75 + 0.55)/4| = 0.275.
  EXPECT_NEAR(tttlab::expected_calibration_error(four_probs(), four_labels(), 1), 0.275, 1e-12);
  // float32 probabilities (what a study hands over) give the same bins.
  EXPECT_NEAR(tttlab::expected_calibration_error(four_probs().to(torch::kFloat), four_labels()), expected, 1e-6);
}

TEST(Calibration, CalibratedAndConfidentExtremes) {
  // Confidence 1/2 on every point (a tie predicts class 0), right on half of them: ECE 0.
  const auto half = torch::full({4, 2}, 0.5, torch::kDouble);
  EXPECT_NEAR(tttlab::expected_calibration_error(half, torch::tensor({0, 1, 0, 1})), 0.0, 1e-15);
  // Certain and always right: confidence 1 lands in the last bin; ECE 0 and Brier 0.
  const auto sure = torch::tensor({1.0, 0.0, 0.0, 0.0, 1.0, 0.0}, torch::kDouble).reshape({2, 3});
  EXPECT_NEAR(tttlab::expected_calibration_error(sure, torch::tensor({0, 1})), 0.0, 1e-15);
  EXPECT_NEAR(tttlab::brier_score(sure, torch::tensor({0, 1})), 0.0, 1e-15);
  // Certain and always wrong: ECE 1 and the largest Brier score, 2.
  EXPECT_NEAR(tttlab::expected_calibration_error(sure, torch::tensor({2, 0})), 1.0, 1e-15);
  EXPECT_NEAR(tttlab::brier_score(sure, torch::tensor({2, 0})), 2.0, 1e-15);
}

TEST(Calibration, BrierScoreHandWorked) {
  // sum_c (p_c - onehot_c)^2 per point:
  //   0: 0.1^2 + 0.1^2   = 0.02     1: 0.9^2 + 0.9^2   = 1.62
  //   2: 0.25^2 + 0.25^2 = 0.125    3: 0.55^2 + 0.55^2 = 0.605
  const auto per_point = tttlab::per_point_brier(four_probs(), four_labels());
  ASSERT_EQ(per_point.scalar_type(), torch::kDouble);
  const double expected[] = {0.02, 1.62, 0.125, 0.605};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(per_point[i].item<double>(), expected[i], 1e-12) << i;
  EXPECT_NEAR(tttlab::brier_score(four_probs(), four_labels()), (0.02 + 1.62 + 0.125 + 0.605) / 4, 1e-12);
  // Three classes, y = 1: 0.2^2 + (0.3 - 1)^2 + 0.5^2 = 0.04 + 0.49 + 0.25.
  const auto three = torch::tensor({0.2, 0.3, 0.5}, torch::kDouble).reshape({1, 3});
  EXPECT_NEAR(tttlab::brier_score(three, torch::tensor({1})), 0.78, 1e-12);
}

TEST(Calibration, InputErrors) {
  expect_input_error([] { tttlab::brier_score(torch::zeros({3}), torch::tensor({0, 1, 2})); }, "[n, C]");
  expect_input_error(
      [] {
        tttlab::brier_score(torch::zeros({2, 3}), torch::tensor({0, 1, 2}));
      },
      "2 rows of probabilities for 3 labels");
  expect_input_error(
      [] {
        tttlab::expected_calibration_error(torch::zeros({2, 3}), torch::tensor({0, 3}));
      },
      "labels must be in [0, 3)");
  expect_input_error(
      [] {
        tttlab::expected_calibration_error(torch::zeros({2, 3}), torch::tensor({0, 1}), 0);
      },
      "0 bins");
  expect_input_error([] { tttlab::brier_score(torch::zeros({0, 3}), torch::zeros({0}, torch::kLong)); }, "no points");
}

// summarize: calibration where a method has probabilities, and the paired NLL difference beside the
// accuracy difference where both methods have cross-entropies.
TEST(Calibration, SummaryCarriesCalibrationAndTheNllDifference) {
  const auto labels = four_labels();
  tttlab::MethodPredictions global{"global", torch::tensor({0, 1, 0, 0}), torch::tensor({1.0, 2.0, 3.0, 4.0}),
                                   four_probs().to(torch::kFloat)};
  tttlab::MethodPredictions ttt{"ttt", torch::tensor({0, 0, 0, 1}), torch::tensor({0.5, 1.5, 2.5, 3.5}),
                                torch::full({4, 2}, 0.5)};
  tttlab::MethodPredictions majority{"majority", torch::tensor({0, 0, 1, 1}), {}, {}};
  const auto s = tttlab::summarize({global, ttt, majority}, labels, {200, 0.90, 1});
  ASSERT_EQ(s.methods.size(), 3u);
  ASSERT_TRUE(s.methods[0].ece && s.methods[0].brier);
  EXPECT_NEAR(*s.methods[0].ece, 0.4, 1e-6);
  EXPECT_NEAR(*s.methods[0].brier, 0.5925, 1e-6);
  // ttt: confidence 1/2 everywhere, predicts class 0, right on 3 of 4: ECE |0.75 - 0.5| = 0.25;
  // Brier 0.5 per point.
  EXPECT_NEAR(*s.methods[1].ece, 0.25, 1e-7);
  EXPECT_NEAR(*s.methods[1].brier, 0.5, 1e-7);
  EXPECT_FALSE(s.methods[2].ece.has_value());
  EXPECT_FALSE(s.methods[2].brier.has_value());
  EXPECT_FALSE(s.methods[2].mean_ce.has_value());
  ASSERT_EQ(s.comparisons.size(), 2u);
  const auto& c = s.comparisons[0];
  EXPECT_EQ(c.name, "ttt - global");
  EXPECT_NEAR(c.accuracy_diff, 1.0 - 0.5, 1e-12);  // ttt right on all 4, global on 2
  // Every point's cross-entropy is 0.5 lower: the difference is -0.5 in every resample too.
  ASSERT_TRUE(c.nll_diff && c.nll_ci);
  EXPECT_NEAR(*c.nll_diff, -0.5, 1e-12);
  EXPECT_NEAR(c.nll_ci->lo, -0.5, 1e-12);
  EXPECT_NEAR(c.nll_ci->hi, -0.5, 1e-12);
  EXPECT_EQ(s.comparisons[1].name, "majority - global");
  EXPECT_FALSE(s.comparisons[1].nll_diff.has_value());
}

}  // namespace
