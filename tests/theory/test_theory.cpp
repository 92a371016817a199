// The theory lab: Proposition 8 against its closed form, the regression estimators against their
// references and hand-worked cases, the TTT rate on a small world, plots, and the `tttlab theory`
// commands end to end (including bad input: exit code 2, one line, no results.json).
#include <tuple>
#include <utility>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tttlab/data/lrh_world.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/studies/theory/local_regression.hpp"
#include "tttlab/report/line_plot.hpp"
#include "tttlab/studies/theory/prop8.hpp"
#include "tttlab/studies/theory/ttt_rate.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace tttlab;
using nlohmann::json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CliRun {
  int code;
  std::string out, err;
};

CliRun tttlab_cli(const fs::path& scratch, const std::string& args) {
  const fs::path out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  const std::string cmd = std::string(TTTLAB_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  return {WEXITSTATUS(status), slurp(out), slurp(err)};
}

// A plot's .dat file read back: one block per series, "# title" then rows of numbers; blocks are
// separated by two blank lines (gnuplot's `index`).
struct DatSeries {
  std::string title;
  std::vector<std::vector<double>> rows;
};

std::vector<DatSeries> read_dat(const fs::path& p) {
  std::vector<DatSeries> out;
  std::istringstream in(slurp(p));
  std::string line;
  int blank_run = 2;  // the file starts a block
  while (std::getline(in, line)) {
    if (line.empty()) {
      ++blank_run;
      continue;
    }
    if (line.rfind("# ", 0) == 0) {
      EXPECT_GE(blank_run, 2) << "a series must start after two blank lines: " << line;
      out.push_back({line.substr(2), {}});
    } else {
      EXPECT_FALSE(out.empty()) << "data before any series title: " << line;
      if (out.empty()) return out;
      std::istringstream fields(line);
      std::vector<double> row;
      for (double v; fields >> v;) row.push_back(v);
      EXPECT_TRUE(fields.eof()) << "not a row of numbers: " << line;
      out.back().rows.push_back(row);
    }
    blank_run = 0;
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Proposition 8

TEST(Prop8, FastPathAgreesWithTheNormalEquations) {
  for (const auto [d1, d2] : {std::pair<int64_t, int64_t>{50, 5}, {64, 32}, {200, 150}}) {
    PortableRng rng(3, static_cast<uint64_t>(d1 * 1000 + d2));
    const auto p = draw_feature_map(d2, d1, rng).t();
    EXPECT_NEAR(prop8_global_error(p), prop8_global_error_reference(p), 1e-10) << d1 << " " << d2;
  }
  // A hand case: d1 = 2 orthogonal unit rows in d2 = 2 -> exact fit; d1 = 2 equal rows in d2 = 1 -> exact fit too;
  // rows (1, 0) and (-1, 0) in d2 = 1: the best v is 0, error 1.
  EXPECT_NEAR(prop8_global_error(torch::eye(2, torch::kDouble)), 0.0, 1e-14);
  EXPECT_NEAR(prop8_global_error(torch::tensor({{1.0}, {-1.0}}, torch::kDouble)), 1.0, 1e-14);
  EXPECT_NEAR(prop8_global_error(torch::tensor({{1.0}, {0.0}}, torch::kDouble)), 0.5, 1e-14);
}

TEST(Prop8, MeanErrorMatchesOneMinusD2OverD1WithinThreeStandardErrors) {
  Prop8Config cfg;
  cfg.d1s = {64, 256};
  cfg.d2s = {8, 16, 32, 48, 64};
  cfg.draws = 40;
  cfg.seed = 1;
  const auto points = run_prop8(cfg);
  ASSERT_EQ(points.size(), 5u + 5u);
  for (const auto& p : points) {
    EXPECT_LE(std::abs(p.z()), 3.0) << "d1=" << p.d1 << " d2=" << p.d2 << " mean " << p.mean << " +- " << p.std_error
                                    << " closed form " << p.closed_form;
    EXPECT_GT(p.std_error, 0.0) << "d2 < d1 must vary across draws";
    if (p.d2 == p.d1) EXPECT_NEAR(p.mean, 0.0, 1e-10);
  }
  // Not a vacuous check: a wrong closed form (1 - d2/(2 d1)) fails at every interior point.
  for (const auto& p : points) {
    if (p.d2 * 4 > p.d1) EXPECT_GT(std::abs(p.mean - (1.0 - p.d2 / (2.0 * p.d1))) / p.std_error, 3.0);
  }
}

// ---------------------------------------------------------------------------------------------------
// Estimators

TEST(LocalRegression, LassoOrthogonalDesignIsSoftThresholding) {
  // X with orthogonal columns of squared norm n: the Lasso solution is soft(Xᵀy / n, λ).
  const int64_t n = 8;
  auto x = torch::zeros({n, 3}, torch::kDouble);
  for (int64_t i = 0; i < n; ++i) x[i][0] = 1.0;                 // all ones
  for (int64_t i = 0; i < n; ++i) x[i][1] = i % 2 ? 1.0 : -1.0;  // alternating
  for (int64_t i = 0; i < n; ++i) x[i][2] = (i / 2) % 2 ? 1.0 : -1.0;
  const auto y = torch::tensor({3.0, 1.0, 2.5, 0.5, 3.2, 1.1, 2.4, 0.3}, torch::kDouble);
  const double lambda = 0.3;
  const auto z = x.t().matmul(y) / n;
  const auto expected = z.sign() * (z.abs() - lambda).clamp_min(0);
  const auto r = lasso_coordinate_descent(x, y, lambda);
  EXPECT_TRUE(r.converged);
  EXPECT_LT((r.w - expected).abs().max().item<double>(), 1e-12) << r.w << expected;
  EXPECT_EQ(r.w.ne(0).sum().item<int64_t>(), expected.ne(0).sum().item<int64_t>());
}

TEST(LocalRegression, LassoCoordinateDescentAgreesWithIsta) {
  torch::manual_seed(5);
  const auto x = torch::randn({40, 25}, torch::kDouble);
  auto w_true = torch::zeros({25}, torch::kDouble);
  w_true[3] = 2.0, w_true[11] = -1.5, w_true[20] = 1.0;
  const auto y = x.matmul(w_true) + 0.1 * torch::randn({40}, torch::kDouble);
  const auto cd = lasso_coordinate_descent(x, y, 0.05);
  ASSERT_TRUE(cd.converged);
  const auto ista = lasso_ista_reference(x, y, 0.05, 20000);
  EXPECT_LT((cd.w - ista).abs().max().item<double>(), 1e-6);
  // support recovered
  EXPECT_TRUE(cd.w.index({torch::tensor({3, 11, 20})}).ne(0).all().item<bool>());
  EXPECT_LT((cd.w - w_true).abs().max().item<double>(), 0.15);
}

TEST(LocalRegression, IterativeHardThresholdingFindsTheBestSubset) {
  torch::manual_seed(9);
  // Noiseless 3-sparse truth among 12 columns, 30 rows: IHT recovers it exactly.
  const auto x = torch::randn({30, 12}, torch::kDouble);
  auto w_true = torch::zeros({12}, torch::kDouble);
  w_true[1] = 1.5, w_true[6] = -2.0, w_true[10] = 0.8;
  const auto y = x.matmul(w_true);
  const auto w = iterative_hard_thresholding(x, y, 3);
  EXPECT_LT((w - w_true).abs().max().item<double>(), 1e-10);
  EXPECT_LT((best_subset_reference(x, y, 3) - w_true).abs().max().item<double>(), 1e-10);
  // With noise: the same support and coefficients as the exhaustive search over all 220 supports.
  const auto y_noisy = y + 0.2 * torch::randn({30}, torch::kDouble);
  const auto iht = iterative_hard_thresholding(x, y_noisy, 3);
  const auto best = best_subset_reference(x, y_noisy, 3);
  EXPECT_LT((iht - best).abs().max().item<double>(), 1e-10);
  EXPECT_EQ(iht.ne(0).sum().item<int64_t>(), 3);
  // Sparsity >= columns: plain least squares.
  const auto all = iterative_hard_thresholding(x.slice(1, 0, 4), y_noisy, 6);
  const auto ls = std::get<0>(torch::linalg_lstsq(x.slice(1, 0, 4), y_noisy.unsqueeze(1))).squeeze(1);
  EXPECT_LT((all - ls).abs().max().item<double>(), 1e-10);
}

TEST(LocalRegression, BatchedMinNormAgreesWithPerPointGelsd) {
  // Rank-deficient local designs (k points of a topic span topic_size < d2 dimensions), k < d2 and k > d2.
  const auto w =
      make_lrh_world(parse_lrh_spec("lrh:d1=96,d2=12,s=3,classes=0,topic_size=6,train=400,test=30,seed=2,noise=0.3"));
  const auto nb = knn_search(w.train.psi.to(torch::kFloat), w.test.psi.to(torch::kFloat), 40).indices;
  for (const int64_t k : {5, 10, 40}) {
    const LocalRegressionData data{w.train.psi, w.train.target, w.test.psi, nb, k};
    const auto fast = min_norm_local_predictions(data);
    const auto ref = min_norm_local_predictions_reference(data);
    EXPECT_LT((fast - ref).abs().max().item<double>(), 1e-8 * (1 + ref.abs().max().item<double>())) << "k=" << k;
  }
  // Averaging is the mean of the neighbours' targets.
  const LocalRegressionData data{w.train.psi, w.train.target, w.test.psi, nb, 3};
  const auto avg = neighbor_average_predictions(data);
  EXPECT_NEAR(avg[0].item<double>(), w.train.target.index_select(0, nb[0].slice(0, 0, 3)).mean().item<double>(), 1e-14);
}

TEST(LocalRegression, NoiselessLocalFitsAreExact) {
  // σ = 0, every neighbour from the test point's topic (large d2): local least squares in the topic's
  // concepts recovers f(x*) exactly once k exceeds the topic size.
  const auto w =
      make_lrh_world(parse_lrh_spec("lrh:d1=64,d2=48,s=2,classes=0,topic_size=4,train=3000,test=20,seed=4,noise=0"));
  const auto nb = knn_search(w.train.psi.to(torch::kFloat), w.test.psi.to(torch::kFloat), 30).indices;
  const auto topics = w.train.topic.index_select(0, nb.reshape({-1})).reshape(nb.sizes());
  ASSERT_TRUE(topics.eq(w.test.topic.unsqueeze(1)).all().item<bool>()) << "neighbours left the topic";
  const LocalRegressionData data{w.train.psi, w.train.target, w.test.psi, nb, 30};
  EXPECT_LT((min_norm_local_predictions(data) - w.test.clean).abs().max().item<double>(), 1e-8);
  const auto sparse = sparse_local_predictions(w.train, w.test, nb, 30, 1e-6, 4);
  EXPECT_LT((sparse.refit - w.test.clean).abs().max().item<double>(), 1e-8);
  EXPECT_LT((sparse.iht - w.test.clean).abs().max().item<double>(), 1e-8);
  EXPECT_LT((sparse.lasso - w.test.clean).abs().max().item<double>(), 1e-3);
}

TEST(LocalRegression, FitLineOnAHandCase) {
  const RateFit f = fit_line({0, 1, 2, 3}, {1, 3, 5, 7});
  EXPECT_NEAR(f.slope, 2.0, 1e-14);
  EXPECT_NEAR(f.intercept, 1.0, 1e-14);
  EXPECT_NEAR(f.slope_std_error, 0.0, 1e-12);
}

// ---------------------------------------------------------------------------------------------------
// The TTT rate on a small world

TEST(TttRate, LocalErrorFallsLikeOneOverKAndBeatsGlobalAndAveraging) {
  RateConfig cfg;
  cfg.base = parse_lrh_spec("lrh:d1=128,d2=32,s=2,classes=0,noise=0.5,seed=1");
  cfg.ks = {8, 16, 32, 64, 128};
  cfg.test = 150;
  cfg.train_per_topic = 1024;  // neighbourhoods stay inside the topic up to k = 128
  cfg.sweeps = {"k"};
  const RateResult r = run_ttt_rate(cfg);
  ASSERT_EQ(r.rows.size(), 5u);
  for (const auto& f : r.fits) {
    if (f.method == "min_norm" || f.method == "lasso" || f.method == "iht") {
      EXPECT_GT(f.slope, -1.4) << f.method;
      EXPECT_LT(f.slope, -0.5) << f.method;
    }
    if (f.method == "global") EXPECT_NEAR(f.slope, 0.0, 1e-9) << "the global head does not depend on k";
  }
  const auto& last = r.rows.back();
  EXPECT_GT(last.same_topic_neighbors, 0.9);
  EXPECT_LT(last.errors.at("min_norm").mean * 10, last.errors.at("global").mean);
  EXPECT_LT(last.errors.at("min_norm").mean * 10, last.errors.at("average").mean);
  EXPECT_LT(last.errors.at("lasso_refit").mean * 10, last.errors.at("global").mean);
}

// ---------------------------------------------------------------------------------------------------
// Plots and the commands

TEST(TheoryPlot, WritesDataScriptPngAndSvg) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot not installed";
  tttlab::test::TempDir dir;
  PlotSpec spec;
  spec.title = "t";
  spec.logx = true;
  PlotSeries s;
  s.title = "a \"quoted\" title";
  s.x = {1, 2, 4};
  s.y = {1, 0.5, 0.25};
  s.err = {0.1, 0.1, 0.1};
  spec.series.push_back(s);
  PlotSeries ci;
  ci.title = "with a CI";
  ci.x = {1, 3};
  ci.y = {0.75, 0.125};
  ci.lo = {0.5, 0.0625};
  ci.hi = {1, 0.25};
  spec.series.push_back(ci);
  write_plot(dir / "fig", spec);
  // The data as given: x, y and the error column, or x, y, lo and hi.
  const auto dat = read_dat(dir / "fig.dat");
  ASSERT_EQ(dat.size(), 2u);
  EXPECT_EQ(dat[0].title, "a \"quoted\" title");
  EXPECT_EQ(dat[0].rows, (std::vector<std::vector<double>>{{1, 1, 0.1}, {2, 0.5, 0.1}, {4, 0.25, 0.1}}));
  EXPECT_EQ(dat[1].title, "with a CI");
  EXPECT_EQ(dat[1].rows, (std::vector<std::vector<double>>{{1, 0.75, 0.5, 1}, {3, 0.125, 0.0625, 0.25}}));
  // The script draws each block with the columns it has.
  const std::string gp = slurp(dir / "fig.gp");
  EXPECT_NE(gp.find("index 0 using 1:2:3 with yerrorlines"), std::string::npos) << gp;
  EXPECT_NE(gp.find("index 1 using 1:2:3:4 with yerrorlines"), std::string::npos) << gp;
  for (const char* ext : {".dat", ".gp", ".png", ".svg"}) {
    EXPECT_TRUE(fs::exists(dir / (std::string("fig") + ext))) << ext;
    EXPECT_GT(fs::file_size(dir / (std::string("fig") + ext)), 20u) << ext;
  }
  EXPECT_EQ(slurp(dir / "fig.png").substr(1, 3), "PNG");
  EXPECT_NE(slurp(dir / "fig.svg").find("<svg"), std::string::npos);
}

namespace {

// The [a:b] of the first "set xrange [a:b]" line of a gnuplot script; NaNs when there is none.
std::pair<double, double> xrange_of(const std::string& script) {
  const auto at = script.find("set xrange [");
  if (at == std::string::npos) return {NAN, NAN};
  const auto colon = script.find(':', at), close = script.find(']', at);
  return {std::stod(script.substr(at + 12, colon - at - 12)), std::stod(script.substr(colon + 1, close - colon - 1))};
}

// The x values of block `index` of a line plot's .dat file (blocks are separated by two blank lines).
std::vector<double> block_xs(const std::string& dat, int index) {
  std::vector<double> xs;
  std::istringstream in(dat);
  std::string line;
  int block = 0, blanks = 0;
  while (std::getline(in, line)) {
    if (line.empty()) {
      if (++blanks == 2) ++block, blanks = 0;
      continue;
    }
    blanks = 0;
    if (block == index && line[0] != '#') xs.push_back(std::stod(line));
  }
  return xs;
}

}  // namespace

// The end points and their error bars sit inside the frame: the x range reaches past the data by a
// margin, on a log axis in decades and on a linear one in units.
TEST(TheoryPlot, XRangeIsPaddedBeyondTheData) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot not installed";
  tttlab::test::TempDir dir;
  PlotSpec spec;
  spec.logx = true;
  PlotSeries s;
  s.x = {1, 10, 100};
  s.y = {1, 0.5, 0.25};
  s.err = {0.1, 0.1, 0.1};
  spec.series.push_back(s);
  write_plot(dir / "log", spec);
  auto [lo, hi] = xrange_of(slurp(dir / "log.gp"));
  EXPECT_NEAR(lo, std::pow(10.0, -0.1), 1e-6);  // 5% of the two decades on each side
  EXPECT_NEAR(hi, std::pow(10.0, 2.1), 1e-4);
  spec.logx = false;
  spec.series[0].x = {0, 5, 20};
  write_plot(dir / "lin", spec);
  std::tie(lo, hi) = xrange_of(slurp(dir / "lin.gp"));
  EXPECT_NEAR(lo, -1.0, 1e-9);
  EXPECT_NEAR(hi, 21.0, 1e-9);
  EXPECT_EQ(padded_xrange({3.0}, false), "set xrange [1.5:4.5]");  // one point: a range around it
  EXPECT_EQ(padded_xrange({-1.0, NAN}, true), "");                 // nothing drawable on a log axis
}

// prop8's closed-form line spans the grid's d2/d1, not a fixed 1e-4..1, and the frame is padded.
TEST(TheoryCli, Prop8ClosedFormSpansTheGrid) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot not installed";
  tttlab::test::TempDir dir;
  const CliRun r =
      tttlab_cli(dir.path(), "theory prop8 --quiet --d1 32 --d2 4,16 --draws 3 --out " + (dir / "out").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<double> closed = block_xs(slurp(dir / "out" / "prop8.dat"), 1);  // after the one d1 block
  ASSERT_GE(closed.size(), 2u);
  EXPECT_NEAR(closed.front(), 4.0 / 32, 1e-9);
  EXPECT_NEAR(closed.back(), 16.0 / 32, 1e-9);
  const auto [lo, hi] = xrange_of(slurp(dir / "out" / "prop8.gp"));
  EXPECT_LT(lo, 4.0 / 32);
  EXPECT_GT(hi, 16.0 / 32);
}

TEST(TheoryCli, Prop8WritesResultsAndPlots) {
  tttlab::test::TempDir dir;
  const CliRun r =
      tttlab_cli(dir.path(), "theory prop8 --quiet --d1 32 --d2 4,16 --draws 30 --out " + (dir / "out").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(slurp(dir / "out" / "results.json"));
  ASSERT_EQ(j["points"].size(), 2u);
  EXPECT_EQ(j["points"][1]["d2"], 16);
  EXPECT_DOUBLE_EQ(j["points"][1]["closed_form"].get<double>(), 0.5);
  EXPECT_EQ(j["points"][1]["per_draw"].size(), 30u);
  if (!have_gnuplot()) return;
  EXPECT_TRUE(fs::exists(dir / "out" / "prop8.png"));
  // The figure's data: the measured means with their standard errors at d2/d1, then the closed form.
  const auto dat = read_dat(dir / "out" / "prop8.dat");
  ASSERT_EQ(dat.size(), 2u);
  EXPECT_EQ(dat[0].title, "d1 = 32 (measured)");
  ASSERT_EQ(dat[0].rows.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& point = j["points"][i];
    ASSERT_EQ(dat[0].rows[i].size(), 3u);
    EXPECT_DOUBLE_EQ(dat[0].rows[i][0], point["d2"].get<double>() / 32);
    EXPECT_NEAR(dat[0].rows[i][1], point["mean_error"].get<double>(), 1e-9);
    EXPECT_NEAR(dat[0].rows[i][2], point["std_error"].get<double>(), 1e-9);
  }
  EXPECT_EQ(dat[1].title, "closed form 1 - d2/d1");
  // The closed form spans the grid's d2/d1 (here 4/32 .. 16/32), not a fixed range.
  ASSERT_GE(dat[1].rows.size(), 2u);
  EXPECT_NEAR(dat[1].rows.front()[0], dat[0].rows.front()[0], 1e-12);
  EXPECT_NEAR(dat[1].rows.back()[0], dat[0].rows.back()[0], 1e-9);
  for (const auto& row : dat[1].rows) EXPECT_NEAR(row[1], 1 - row[0], 1e-9) << row[0];
}

TEST(TheoryCli, ExportAndRunOnAWorld) {
  tttlab::test::TempDir dir;
  const std::string world = "lrh:d1=64,d2=16,s=2,classes=4,train=400,test=80,seed=3";
  CliRun r = tttlab_cli(dir.path(), "theory export --quiet --world " + world + " --out " + (dir / "emb").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "emb" / "train_concept_ids.npy"));
  EXPECT_TRUE(fs::exists(dir / "emb" / "world.json"));
  // The test split's Φ dense (what `sae recovery --true-test-codes` reads): [M, d1], its nonzeros
  // exactly the listed concepts with their values.
  const auto codes = read_npy(dir / "emb" / "test_codes.npy");
  const auto ids = read_npy(dir / "emb" / "test_concept_ids.npy").to(torch::kLong);
  const auto vals = read_npy(dir / "emb" / "test_concept_values.npy").to(torch::kFloat);
  ASSERT_EQ(codes.sizes(), (torch::IntArrayRef{80, 64}));
  EXPECT_TRUE(codes.gather(1, ids).equal(vals));
  EXPECT_EQ(codes.ne(0).sum().item<int64_t>(), vals.ne(0).sum().item<int64_t>());
  const std::string small = " --k 20 --steps 20 --lr 0.05 --head-epochs 30 --head-batch-size 64 --bootstrap 50";
  r = tttlab_cli(dir.path(), "run --quiet --data " + world + " --out " + (dir / "a").string() + small);
  ASSERT_EQ(r.code, 0) << r.err;
  r = tttlab_cli(dir.path(),
                 "run --quiet --data npy:" + (dir / "emb").string() + " --out " + (dir / "b").string() + small);
  ASSERT_EQ(r.code, 0) << r.err;
  const json a = json::parse(slurp(dir / "a" / "results.json")), b = json::parse(slurp(dir / "b" / "results.json"));
  EXPECT_EQ(a["methods"], b["methods"]) << "the exported folder is the same data set";
  EXPECT_GT(a["methods"]["ttt"]["accuracy"].get<double>(), 0.4) << "above chance (0.25) by a margin";
}

TEST(TheoryCli, ClassifyRunsTheStudyPerD2) {
  tttlab::test::TempDir dir;
  const CliRun r = tttlab_cli(dir.path(),
                              "theory classify --quiet --world lrh:d1=64,s=2,classes=3,train=300,test=60 "
                              "--d2s 4,32 --k 20 --steps 20 --head-epochs 20 --bootstrap 50 --out " +
                                  (dir / "out").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(slurp(dir / "out" / "results.json"));
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][0]["d2"], 4);
  for (const auto& row : j["rows"]) {
    for (const char* m : {"global", "ttt", "majority"}) EXPECT_TRUE(row["methods"].contains(m)) << m;
    EXPECT_TRUE(row["comparisons"].contains("ttt - global"));
    EXPECT_GT(row["oracle_accuracy"].get<double>(), 0.8);
  }
  if (have_gnuplot()) {
    EXPECT_TRUE(fs::exists(dir / "out" / "classify_accuracy.svg"));
    EXPECT_TRUE(fs::exists(dir / "out" / "classify_gain.png"));
    EXPECT_EQ(j["plots"].size(), 4u);
  }
}

TEST(TheoryCli, RateWritesRowsFitsAndPlots) {
  tttlab::test::TempDir dir;
  const CliRun r = tttlab_cli(dir.path(),
                              "theory rate --quiet --world lrh:d1=64,d2=16,s=2,classes=0,noise=0.3 "
                              "--sweeps k,s --ks 8,16,32 --ss 1,2 --k-fixed 8 --test 30 --slope-k-min 8 --out " +
                                  (dir / "out").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(slurp(dir / "out" / "results.json"));
  ASSERT_EQ(j["rows"].size(), 3u + 2u);
  EXPECT_EQ(j["rows"][3]["sweep"], "s");
  EXPECT_EQ(j["rows"][3]["topic_size"], 2);
  for (const char* m : {"min_norm", "lasso", "lasso_refit", "iht", "global", "average"})
    EXPECT_TRUE(j["rows"][0]["errors"].contains(m)) << m;
  EXPECT_EQ(j["fits"].size(), 12u);  // 6 methods x 2 sweeps
  if (have_gnuplot()) {
    EXPECT_TRUE(fs::exists(dir / "out" / "rate_k.png"));
    EXPECT_TRUE(fs::exists(dir / "out" / "rate_s.svg"));
  }
}

TEST(TheoryCli, BadInputIsExitCodeTwoWithOneLine) {
  tttlab::test::TempDir dir;
  const fs::path out = dir / "out";
  for (const std::string args : {"run --quiet --data lrh:d1=abc --out " + out.string(),
                                 "run --quiet --data lrh:d1=64,s=100 --out " + out.string(),
                                 "theory export --world lrh:colour=1 --out " + out.string(),
                                 "theory prop8 --quiet --d1 32 --draws 1 --out " + out.string(),
                                 "theory rate --quiet --world lrh:classes=5 --out " + out.string(),
                                 "theory rate --quiet --sweeps k,q --out " + out.string(),
                                 "theory rate --quiet --sweeps sigma --sigmas 0,1 --out " + out.string(),
                                 "theory classify --quiet --world lrh:classes=0 --out " + out.string()}) {
    const CliRun r = tttlab_cli(dir.path(), args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(out / "results.json")) << args;
  }
}
