// The MLP heads of E.6 (Tables 7-8): the model, TTT in its hidden space starting from its last layer,
// and `tttlab scale model` on an embedding folder.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "tttlab/models/mlp_head.hpp"
#include "tttlab/studies/study.hpp"
#include "tttlab/models/model_sizes.hpp"
#include "tttlab/train/global_train.hpp"

using namespace tttlab;
using nlohmann::json;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

// XOR of the signs of the first two of 8 dimensions: no linear head does better than chance.
Dataset xor_data(int64_t n_train, int64_t n_test) {
  auto make = [](int64_t n) {
    auto x = torch::randn({n, 8});
    x.slice(1, 0, 2).mul_(3.0);
    const auto y = (x.select(1, 0).gt(0).logical_xor(x.select(1, 1).gt(0))).to(torch::kLong);
    return Split{x, y};
  };
  torch::manual_seed(11);
  return {"xor", make(n_train), make(n_test), std::nullopt, 2, false};
}

double accuracy(const torch::Tensor& pred, const torch::Tensor& y) {
  return pred.eq(y).to(torch::kDouble).mean().item<double>();
}

}  // namespace

TEST(MlpHead, LearnsXorAndItsHiddenLayerFeedsTheStudy) {
  const Dataset data = xor_data(2000, 400);
  torch::manual_seed(0);
  MlpHead mlp(8, 64, 2, 0.1);
  train_classifier(
      *mlp, [&](const torch::Tensor& x) { return mlp->forward(x); }, data.train, TrainConfig{40, 100, 5e-3, 0.0, 0},
      "mlp");
  mlp->eval();
  const auto mlp_pred = mlp->forward(data.test.x).argmax(1);
  EXPECT_GT(accuracy(mlp_pred, data.test.y), 0.9);  // a linear head stays near 0.5 on XOR

  // The hidden features are ReLU outputs of width 64, the same in batches as at once.
  const auto h = mlp_hidden_features(mlp, data.test.x, 64);
  EXPECT_EQ(h.sizes(), (torch::IntArrayRef{400, 64}));
  EXPECT_GE(h.min().item<double>(), 0.0);
  EXPECT_TRUE(torch::allclose(h, mlp_hidden_features(mlp, data.test.x, 4096)));

  // The study in the hidden space with the MLP's last layer as the global head: the global
  // predictions are the MLP's, and TTT with 0 steps leaves them unchanged.
  Dataset hidden{
      "xor hidden", {mlp_hidden_features(mlp, data.train.x), data.train.y}, {h, data.test.y}, std::nullopt, 2, false};
  StudyConfig sc;
  sc.initial_head = mlp->output_head();
  sc.ttt.k = 50;
  sc.ttt.steps = 0;
  sc.majority_k = 10;
  sc.device = "cpu";
  const StudyResult r = run_study(sc, hidden);
  ASSERT_EQ(r.methods.size(), 3u);
  for (const auto& m : r.methods) {
    if (m.name == "global" || m.name == "ttt") EXPECT_TRUE(m.pred.equal(mlp_pred)) << m.name;
    if (m.name == "majority") EXPECT_GT(accuracy(m.pred, data.test.y), 0.85);
  }
  // A head of the wrong width is refused.
  sc.initial_head = {torch::zeros({2, 7}), torch::zeros({2})};
  test::expect_input_error([&] { run_study(sc, hidden); }, "initial head");
}

TEST(MlpHead, TableSevenRowsAndBadSizes) {
  EXPECT_EQ(paper_mlp_widths().size(), 10u);
  EXPECT_DOUBLE_EQ(paper_mlp_width(4000).dropout, 0.7);
  EXPECT_EQ(paper_mlp_width(500).train_batch, 350);
  EXPECT_EQ(paper_mlp_width(260).hidden, 250);  // the nearest row
  test::expect_input_error([] { paper_mlp_width(0); }, "hidden width 0");
  test::expect_input_error([] { MlpHead(8, 16, 2, 1.0); }, "dropout=1");
}

TEST(ScaleCli, ModelOnAnEmbeddingFolderTrainsMlpHeadsAndResumes) {
  TempDir dir;
  test::write_xor_blobs(dir / "emb", 1500, 200);
  const std::string args = "scale model --quiet --no-plot --data npy:" + (dir / "emb").string() + " --out " +
                           (dir / "m").string() +
                           " --widths 16,64 --seeds 0 --max-epochs 30 --mlp-lr 5e-3 "
                           "--mlp-batch 100 --bootstrap 50 --threads 1";
  const auto first = test::run_tttlab(args, dir.path());
  ASSERT_EQ(first.code, 0) << first.err;
  const json j = json::parse(test::read_bytes(dir / "m" / "scale_model.json"));
  ASSERT_EQ(j["rows"].size(), 10u);  // 2 widths x (global, majority, ttt, ttt - global, majority - global)
  for (const auto& row : j["rows"]) {
    if (row["metric"] == "global") EXPECT_GT(row["value"].get<double>(), 0.85) << row.dump();  // an MLP solves XOR
  }
  const json run = json::parse(test::read_bytes(dir / "m" / "runs" / "hidden=64,seed=0.json"));
  EXPECT_EQ(run["result"]["parameters"].get<int64_t>(), 8 * 64 + 64 + 64 * 2 + 2);
  EXPECT_EQ(run["result"]["epochs"].get<int64_t>(), 30);

  // Rerun: nothing recomputed.
  const auto stamp = fs::last_write_time(dir / "m" / "runs" / "hidden=16,seed=0.json");
  const auto second = test::run_tttlab(args, dir.path());
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(fs::last_write_time(dir / "m" / "runs" / "hidden=16,seed=0.json"), stamp);

  // Bad widths and options: exit 2, one line, nothing written.
  for (const auto& [extra, needle] : std::vector<std::pair<std::string, std::string>>{
           {" --widths 0", "hidden width 0"}, {" --mlp-lr -1", "--mlp-lr=-1"}}) {
    const auto r = test::run_tttlab("scale model --quiet --no-plot --data npy:" + (dir / "emb").string() + " --out " +
                                        (dir / "bad").string() + extra,
                                    dir.path());
    EXPECT_EQ(r.code, 2) << extra << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "bad" / "scale_model.json"));
  // Settings the paper's tables fix per size are not options of `scale model` (they would be ignored).
  for (const std::string opt : {"--epochs 3", "--train-lr 0.1", "--head-lr 0.1", "--steps 5", "--lr 0.1"}) {
    const auto r = test::run_tttlab("scale model --quiet --no-plot --data npy:" + (dir / "emb").string() + " --out " +
                                        (dir / "bad").string() + " " + opt,
                                    dir.path());
    EXPECT_EQ(r.code, 2) << opt << "\n" << r.err;
  }
  const auto help = test::run_tttlab("scale model --help", dir.path());
  EXPECT_EQ(help.code, 0);
  EXPECT_EQ(help.out.find("--train-lr"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--widths"), std::string::npos) << help.out;
}
