// Class-balanced subsamples, Table 2's locality columns on a hand-made case, the gnuplot figure,
// and `tttlab scale` end to end on a small embedding folder (resume, tables, bad options).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/models/flexible_lenet.hpp"
#include "tttlab/models/model_sizes.hpp"
#include "tttlab/studies/scaling/plot.hpp"
#include "tttlab/studies/scaling/studies.hpp"
#include "tttlab/data/subsample.hpp"

using namespace tttlab;
namespace fs = std::filesystem;
using nlohmann::json;
using tttlab::test::expect_input_error;
using tttlab::test::TempDir;

TEST(Subsample, ClassBalancedSeededAndChecked) {
  // 3 classes with 50, 30 and 20 rows.
  auto labels = torch::cat(
      {torch::zeros({50}, torch::kLong), torch::ones({30}, torch::kLong), torch::full({20}, 2, torch::kLong)});
  labels = labels.index_select(0, torch::randperm(100, torch::kLong));
  const auto rows = class_balanced_rows(labels, 3, 0.3, 4);  // m = round(0.3 * 100 / 3) = 10
  ASSERT_EQ(rows.numel(), 30);
  EXPECT_TRUE(rows.equal(std::get<0>(rows.sort())));
  EXPECT_EQ(std::get<0>(at::_unique(rows)).numel(), 30);
  const auto y = labels.index_select(0, rows);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(y.eq(c).sum().item<int64_t>(), 10);
  EXPECT_TRUE(rows.equal(class_balanced_rows(labels, 3, 0.3, 4)));
  EXPECT_FALSE(rows.equal(class_balanced_rows(labels, 3, 0.3, 5)));
  EXPECT_EQ(class_balanced_rows(labels, 3, 1.0, 0).numel(), 100);
  EXPECT_EQ(class_balanced_rows(labels, 3, 0.001, 0).numel(), 3);  // at least one per class
  expect_input_error([&] { class_balanced_rows(labels, 3, 0.0, 0); }, "data fraction 0");
  expect_input_error([&] { class_balanced_rows(labels, 3, 1.5, 0); }, "expected in (0, 1]");
  expect_input_error([&] { class_balanced_rows(labels, 3, 0.7, 0); }, "class 2 has 20 training rows");
}

TEST(Locality, ColumnsOnAHandMadeCase) {
  // Two test points in 2-D, two classes. Head 0 always says class 0, head 1 always class 1.
  StudyResult r;
  r.train_features = {torch::zeros({4, 2}), torch::tensor({0, 1, 1, 1}, torch::kLong)};
  r.test_features = {torch::zeros({2, 2}), torch::tensor({0, 1}, torch::kLong)};
  r.test_labels = r.test_features.y;
  r.neighbors = torch::tensor({0, 1, 2, 3}, torch::kLong).reshape({2, 2});
  r.ttt_weights = torch::zeros({2, 2, 2});
  r.ttt_biases = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f}).reshape({2, 2});
  const auto [own, anywhere] = locality_columns(r, 2, 2, 0);
  // head 0 on rows 0,1 (labels 0,1): 0.5; head 1 on rows 2,3 (labels 1,1): 1.0
  EXPECT_TRUE(own.allclose(torch::tensor({0.5, 1.0}, torch::kDouble)));
  // both heads on both test points: each test point is right under exactly one head
  EXPECT_TRUE(anywhere.allclose(torch::tensor({0.5, 0.5}, torch::kDouble)));
  const auto [own1, one] = locality_columns(r, 1, 1, 0);  // k = 1: only the nearest neighbour
  EXPECT_TRUE(own1.allclose(torch::tensor({1.0, 1.0}, torch::kDouble)));
  EXPECT_NEAR(one.sum().item<double>(), 1.0, 1e-12);  // one head: right on one of the two points
  expect_input_error([&] { locality_columns(r, 3, 1, 0); }, "k=3");
  expect_input_error([&] { locality_columns(r, 2, 3, 0); }, "3 random heads");
  r.ttt_weights = torch::Tensor();
  expect_input_error([&] { locality_columns(r, 2, 1, 0); }, "kept no TTT heads");
}

TEST(Plot, WritesPngAndSvg) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot not installed";
  TempDir dir;
  std::vector<SweepRow> rows;
  for (int k : {5, 50, 500}) {
    rows.push_back({{{"k", k}}, "global", {0.9, {0.88, 0.92}, 2}});
    rows.push_back({{{"k", k}}, "ttt", {0.9 + k * 1e-4, {0.89, 0.95}, 2}});
  }
  plot_sweep(dir / "fig", rows, {"k", "k", "test", true, {"global", "ttt"}});
  const std::string png = tttlab::test::read_bytes(dir / "fig.png");
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_NE(tttlab::test::read_bytes(dir / "fig.svg").find("<svg"), std::string::npos);
  const std::string dat = tttlab::test::read_bytes(dir / "fig.dat");
  EXPECT_NE(dat.find("\n5 10.0000 8.0000 12.0000 9.9500"), std::string::npos) << dat;
  expect_input_error([&] { plot_sweep(dir / "none", rows, {"q", "q", "t", true, {"global"}}); }, "numeric 'q'");
  // k = 5 and k = 500 and their error bars lie inside the frame: 5% of the two decades beyond each.
  const std::string gp = tttlab::test::read_bytes(dir / "fig.gp");
  const auto at = gp.find("set xrange [");
  ASSERT_NE(at, std::string::npos) << gp;
  const auto colon = gp.find(':', at), close = gp.find(']', at);
  EXPECT_NEAR(std::stod(gp.substr(at + 12, colon - at - 12)), 5 / std::pow(10.0, 0.1), 1e-4) << gp;
  EXPECT_NEAR(std::stod(gp.substr(colon + 1, close - colon - 1)), 500 * std::pow(10.0, 0.1), 1e-3) << gp;
}

namespace {

using test::CliRun;

CliRun tttlab_cli(const fs::path& root, const std::string& args) { return test::run_tttlab(args, root); }

void make_folder(const fs::path& dir) { test::write_xor_blobs(dir, 300, 60); }

}  // namespace

TEST(ScaleCli, KSweepWritesTablesAndResumes) {
  TempDir dir;
  make_folder(dir / "emb");
  const std::string args = "scale k --quiet --no-plot --data npy:" + (dir / "emb").string() + " --out " +
                           (dir / "sweep").string() +
                           " --seeds 0,1 --ks 2,40 --steps 20 --lr 0.1 --head-epochs 10 "
                           "--bootstrap 50 --threads 1";
  const CliRun first = tttlab_cli(dir.path(), args);
  ASSERT_EQ(first.code, 0) << first.err;
  const json j = json::parse(tttlab::test::read_bytes(dir / "sweep" / "scale_k.json"));
  ASSERT_EQ(j["rows"].size(), 10u);  // 2 k x (global, majority, ttt, ttt - global, majority - global)
  for (const auto& row : j["rows"]) {
    EXPECT_EQ(row["seeds"], 2);
    EXPECT_LE(row["ci90"][0].get<double>(), row["ci90"][1].get<double>());
  }
  json ttt40;
  for (const auto& row : j["rows"]) {
    if (row["metric"] == "ttt - global" && row["x"]["k"] == 40) ttt40 = row;
  }
  ASSERT_TRUE(ttt40.is_object());
  EXPECT_GT(ttt40["value"].get<double>(), 0.1) << "local heads should beat the global head on XOR";
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "sweep" / "runs"), fs::directory_iterator{}), 4);
  const std::string csv = tttlab::test::read_bytes(dir / "sweep" / "scale_k.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "k,metric,value,ci_lo,ci_hi,seeds");

  // Rerun: nothing recomputed (run files untouched), same table.
  const auto stamp = fs::last_write_time(dir / "sweep" / "runs" / "k=2,seed=0.json");
  const CliRun second = tttlab_cli(dir.path(), args);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(fs::last_write_time(dir / "sweep" / "runs" / "k=2,seed=0.json"), stamp);
  EXPECT_EQ(json::parse(tttlab::test::read_bytes(dir / "sweep" / "scale_k.json")), j);

  // Other settings into the same folder: refused, exit 2, one line.
  std::string other_args = args;
  other_args.replace(other_args.find("--lr 0.1"), 8, "--lr 0.2");
  const CliRun other = tttlab_cli(dir.path(), other_args);
  EXPECT_EQ(other.code, 2);
  EXPECT_NE(other.err.find("ttt.lr"), std::string::npos) << other.err;
  EXPECT_EQ(std::count(other.err.begin(), other.err.end(), '\n'), 1) << other.err;
}

TEST(ScaleCli, BadOptionsExitWithCode2) {
  TempDir dir;
  make_folder(dir / "emb");
  const std::string base = "--quiet --no-plot --data npy:" + (dir / "emb").string() + " --out " + (dir / "o").string();
  for (const auto& [args, needle] : std::vector<std::pair<std::string, std::string>>{
           {"scale k " + base + " --ks 0", "k=0"},
           {"scale k " + base + " --ks 400", "k"},
           {"scale data " + base + " --fractions 1.5", "1.5"},
           {"scale data " + base + " --seeds 1,1", "appears twice"},
           {"scale locality " + base + " --random-heads 0", "--random-heads=0"},
           {"scale k --quiet --data npy:" + (dir / "missing").string() + " --out " + (dir / "p").string(),
            "missing"}}) {
    const CliRun r = tttlab_cli(dir.path(), args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "o" / "scale_k.json"));
}

TEST(ScaleCli, DataAndLocalityOnASmallFolder) {
  TempDir dir;
  make_folder(dir / "emb");
  const std::string base = " --quiet --data npy:" + (dir / "emb").string() +
                           " --seeds 0 --bootstrap 50 --threads 1 "
                           "--head-epochs 10 --steps 20 --lr 0.1 --k 20 --majority-k 5";
  const CliRun d =
      tttlab_cli(dir.path(), "scale data --no-plot --out " + (dir / "d").string() + " --fractions 0.5,1" + base);
  ASSERT_EQ(d.code, 0) << d.err;
  const json jd = json::parse(tttlab::test::read_bytes(dir / "d" / "scale_data.json"));
  ASSERT_EQ(jd["rows"].size(), 10u);
  const json run = json::parse(tttlab::test::read_bytes(dir / "d" / "runs" / "fraction=0.5,seed=0.json"));
  EXPECT_EQ(run["result"]["num_train"].get<int64_t>() % 2, 0);  // two classes, equal counts
  EXPECT_LT(run["result"]["num_train"].get<int64_t>(), 160);

  const CliRun l = tttlab_cli(dir.path(), "scale locality --out " + (dir / "l").string() + base);
  ASSERT_EQ(l.code, 0) << l.err;
  const json jl = json::parse(tttlab::test::read_bytes(dir / "l" / "locality_table.json"));
  std::map<std::string, double> v;
  for (const auto& row : jl["rows"]) v[row["metric"]] = row["value"];
  ASSERT_EQ(v.size(), 5u);
  // XOR: each local head fits its own neighbourhood far better than one global linear head fits the
  // test set, and a head taken to the whole test set is no better than the global one.
  EXPECT_GT(v["ttt on its neighbourhood"], v["global"] + 0.2);
  EXPECT_GT(v["ttt on the test point"], v["global"] + 0.1);
  EXPECT_LT(v["global ttt"], v["ttt on the test point"] - 0.1);
}

TEST(ModelSizes, ScalesMatchTheParameterCounts) {
  EXPECT_EQ(LeNetShape::from_scale(size_scale_for_parameters(7646)).parameter_count(), 7646);  // TinyLeNet
  int64_t previous = 0;
  for (const auto& size : paper_model_sizes()) {
    const int64_t ours = LeNetShape::from_scale(size_scale_for_parameters(size.parameters)).parameter_count();
    EXPECT_NEAR(static_cast<double>(ours), static_cast<double>(size.parameters), 0.03 * size.parameters)
        << size.parameters;
    EXPECT_GT(ours, previous);
    previous = ours;
  }
  EXPECT_EQ(paper_model_size(6386).ttt_k, 50);
  EXPECT_EQ(paper_model_size(280).majority_k, 8);
  expect_input_error([] { paper_model_size(123); }, "123 is not one of Table 3's");
}

TEST(ScaleCli, ModelRefusesUnknownSizes) {
  TempDir dir;
  const CliRun s =
      tttlab_cli(dir.path(), "scale model --quiet --data mnist --out " + (dir / "m2").string() + " --sizes 281");
  EXPECT_EQ(s.code, 2);
  EXPECT_NE(s.err.find("281 is not one of"), std::string::npos) << s.err;
}
