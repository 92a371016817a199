// The top-k SAE: top-k selection, initialisation, the ghost-gradient term, training (loss goes down,
// decoder columns stay unit-norm), exact resume, file round trips and bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/sae/sae_train.hpp"
#include "tttlab/sae/top_k_sae.hpp"

namespace {

using namespace tttlab;
using tttlab::test::TempDir;

// Inputs that are exactly 2-sparse in a dictionary of 24 random unit directions in 12-D.
torch::Tensor sparse_world(int64_t n, uint64_t seed, torch::Tensor* dictionary = nullptr) {
  torch::manual_seed(seed);
  auto dict = torch::randn({24, 12});
  dict.div_(dict.norm(2, {1}, true));
  auto codes = torch::zeros({n, 24});
  const auto idx = torch::randint(0, 24, {n, 2}, torch::kLong);
  codes.scatter_(1, idx, torch::rand({n, 2}) + 0.5);
  if (dictionary) *dictionary = dict;
  return torch::matmul(codes, dict);
}

SaeConfig small_config() {
  SaeConfig c;
  c.latent_dim = 48;
  c.k = 2;
  c.k_start = 8;
  c.k_anneal_steps = 40;
  c.epochs = 30;
  c.batch_size = 64;
  c.lr = 1e-2;
  c.warmup_steps = 10;
  c.dropout = 0.0;
  c.ghost_weight = 1.0;
  c.dead_threshold = 1e-3;
  c.dead_window = 256;
  c.eval_rows = 0;
  return c;
}

class Sae : public ::testing::Test {
 protected:
  void SetUp() override {
    set_progress_enabled(false);
    torch::set_num_threads(1);
  }
};

TEST_F(Sae, TopKKeepsExactlyTheLargestValues) {
  torch::manual_seed(1);
  const auto pre = torch::randn({30, 40});
  for (bool relu : {false, true}) {
    const SparseCodes codes = top_k_codes(pre, 5, relu);
    ASSERT_EQ(codes.indices.sizes(), (std::vector<int64_t>{30, 5}));
    for (int64_t r = 0; r < 30; ++r) {
      std::vector<float> row(pre[r].data_ptr<float>(), pre[r].data_ptr<float>() + 40);
      std::vector<int64_t> order(40);
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
      for (int64_t j = 0; j < 5; ++j) {
        EXPECT_EQ(codes.indices[r][j].item<int64_t>(), order[j]);
        const float expect = relu ? std::max(0.0f, row[order[j]]) : row[order[j]];
        EXPECT_EQ(codes.values[r][j].item<float>(), expect);
      }
    }
  }
  // Dense form: exactly k non-zeros per row (relu off), at the selected places.
  const auto dense = codes_to_dense(top_k_codes(pre, 5, false), 40);
  EXPECT_TRUE(dense.ne(0).sum(1).eq(5).all().item<bool>());
}

TEST_F(Sae, DecoderStartsAsEncoderTransposeWithUnitColumns) {
  const TopKSae sae = init_sae(12, 48, 4, true, 7);
  EXPECT_TRUE(torch::equal(sae.decoder, sae.encoder.t()));
  EXPECT_TRUE(torch::allclose(sae.decoder.norm(2, {0}), torch::ones({48}), 1e-6, 1e-6));
  const TopKSae other = init_sae(12, 48, 4, true, 8);
  EXPECT_FALSE(torch::equal(sae.encoder, other.encoder));  // the seed matters
  // Decoding equals the sum of the selected decoder columns weighted by their values.
  const auto x = torch::randn({10, 12});
  const SparseCodes codes = top_k_codes(sae_pre_activations(sae, x), 4, true);
  auto expect = torch::zeros({10, 12});
  for (int64_t r = 0; r < 10; ++r) {
    for (int64_t j = 0; j < 4; ++j) {
      expect[r] += codes.values[r][j] * sae.decoder.select(1, codes.indices[r][j].item<int64_t>());
    }
  }
  EXPECT_TRUE(torch::allclose(decode_sparse(sae, codes), expect, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(decode_gather(sae, codes), expect, 1e-5, 1e-6));
}

// The gathering decode (the GPU's) against the dense one (the reference): outputs and the gradients
// that training uses (decoder, values, pre-bias) agree.
TEST_F(Sae, GatherDecodeMatchesDenseDecodeWithGradients) {
  torch::manual_seed(9);
  TopKSae sae = init_sae(24, 96, 8, true, 3, torch::randn({24}));
  const auto x = torch::randn({50, 24});
  const auto target = torch::randn({50, 24});
  struct Grads {
    torch::Tensor out, decoder, values, pre_bias;
  };
  auto run = [&](bool gather) {
    TopKSae s = sae;
    s.decoder = sae.decoder.clone().requires_grad_(true);
    s.pre_bias = sae.pre_bias.clone().requires_grad_(true);
    SparseCodes codes = top_k_codes(sae_pre_activations(sae, x), 8, true);
    codes.values = codes.values.detach().requires_grad_(true);
    const auto out = gather ? decode_gather(s, codes) : decode_dense(s, codes);
    (out - target).pow(2).sum().backward();
    return Grads{out.detach(), s.decoder.grad(), codes.values.grad(), s.pre_bias.grad()};
  };
  const Grads dense = run(false), gather = run(true);
  EXPECT_TRUE(torch::allclose(gather.out, dense.out, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(gather.decoder, dense.decoder, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(gather.values, dense.values, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(gather.pre_bias, dense.pre_bias, 1e-4, 1e-4));
  EXPECT_GT(dense.decoder.abs().max().item<double>(), 1e-3);  // the gradients are not all zero
}

TEST_F(Sae, GhostLossTrainsOnlyInactiveUnitsAndMatchesItsFormula) {
  torch::manual_seed(2);
  TopKSae sae = init_sae(12, 48, 2, true, 3);
  const auto x = sparse_world(32, 4);
  const SparseCodes plain = top_k_codes(sae_pre_activations(sae, x), 2, true);
  auto selected = torch::zeros({48}, torch::kBool);
  selected.index_fill_(0, plain.indices.reshape({-1}), true);
  const auto inactive = selected.logical_not();
  ASSERT_GT(inactive.sum().item<int64_t>(), 10);

  auto grad_of_inactive_rows = [&](double weight) {
    TopKSae s = sae;
    s.encoder = sae.encoder.clone().set_requires_grad(true);
    s.decoder = sae.decoder.clone().set_requires_grad(true);
    const SaeLoss loss = sae_loss(s, x, 2, 0.0, inactive, weight);
    loss.total.backward();
    return std::make_pair(s.encoder.grad().index({inactive}).abs().sum().item<double>(), loss);
  };
  const auto [without, loss0] = grad_of_inactive_rows(0.0);
  const auto [with, loss1] = grad_of_inactive_rows(10.0);
  EXPECT_EQ(without, 0.0);  // top-k alone never reaches units it does not select
  EXPECT_GT(with, 1e-4);    // the ghost loss does

  // Its value: mean over elements of (x - x_hat - D (inactive * E x))^2.
  torch::NoGradGuard no_grad;
  const auto pre = sae_pre_activations(sae, x);
  const auto ghost = (x - loss1.reconstruction - torch::matmul(pre * inactive.to(torch::kFloat), sae.decoder.t()))
                         .pow(2)
                         .mean()
                         .item<double>();
  EXPECT_NEAR(loss1.ghost.item<double>(), ghost, 1e-6 * std::max(1.0, ghost));
  EXPECT_NEAR(loss1.total.item<double>(), loss1.mse.item<double>() + 10.0 * ghost, 1e-5 * (1 + 10 * ghost));
  // No inactive unit: no ghost term.
  const SaeLoss none = sae_loss(sae, x, 2, 0.0, torch::zeros({48}, torch::kBool), 10.0);
  EXPECT_EQ(none.ghost.item<double>(), 0.0);
}

TEST_F(Sae, SchedulesFollowTheRecipe) {
  SaeConfig c;  // paper defaults: warm-up 5000 to 3e-4, cosine to 0 at the horizon, k 128 -> 16 over 10k steps
  c.cosine_horizon = 100000;
  EXPECT_DOUBLE_EQ(c.lr_at(0, 0), 3e-4 / 5000);
  EXPECT_DOUBLE_EQ(c.lr_at(4999, 0), 3e-4);
  EXPECT_DOUBLE_EQ(c.lr_at(5000, 0), 3e-4);
  EXPECT_NEAR(c.lr_at(52500, 0), 1.5e-4, 1e-12);
  EXPECT_NEAR(c.lr_at(100000, 0), 0.0, 1e-15);
  EXPECT_EQ(c.k_at(0, 4096), 128);
  EXPECT_EQ(c.k_at(5000, 4096), 72);
  EXPECT_EQ(c.k_at(10000, 4096), 16);
  EXPECT_EQ(c.k_at(50000, 4096), 16);
  EXPECT_EQ(c.k_at(0, 64), 64);  // k_start is clamped to d1
}

TEST_F(Sae, TrainingLowersTheLossAndKeepsUnitDecoderColumns) {
  TempDir dir;
  const auto x = sparse_world(512, 5);
  SaeTrainOptions opts;
  opts.out_dir = dir.path();
  const SaeTrainResult r = train_sae(x, small_config(), opts);
  ASSERT_TRUE(r.finished);
  ASSERT_EQ(r.history.size(), 30u);
  EXPECT_LT(r.history.back().eval_mse, 0.5 * r.history.front().eval_mse);
  EXPECT_GT(r.history.back().eval_fve, 0.7);  // 0.78 measured; 2-sparse data, linear encoder
  EXPECT_TRUE(torch::allclose(r.sae.decoder.norm(2, {0}), torch::ones({48}), 1e-5, 1e-5));
  EXPECT_TRUE(std::filesystem::exists(dir / "sae.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "train_log.txt"));
  // The saved model loads back as trained.
  const TopKSae loaded = load_sae(dir.path());
  EXPECT_TRUE(torch::equal(loaded.encoder, r.sae.encoder));
  EXPECT_TRUE(torch::equal(loaded.decoder, r.sae.decoder));
  EXPECT_EQ(loaded.k, 2);
}

TEST_F(Sae, AScheduleLongerThanTheRunWarnsAndRecordsTheKItTrainedAt) {
  TempDir dir;
  const auto x = sparse_world(256, 5);
  SaeConfig c = small_config();
  c.epochs = 2;  // 4 steps per epoch: 8 steps, shorter than the warm-up (10) and the annealing (40)
  SaeTrainOptions opts;
  opts.out_dir = dir.path();
  const SaeTrainResult r = train_sae(x, c, opts);
  ASSERT_TRUE(r.finished);
  // k after 7 of 40 annealing steps from 8 to 2: 8 - 6 * 7 / 40 = 6.95 -> 7
  EXPECT_EQ(r.sae.k, 7);
  EXPECT_EQ(load_sae(dir.path()).k, 7);
  ASSERT_GE(r.warnings.size(), 2u);
  EXPECT_NE(r.warnings[0].find("warm-up (10 steps) is longer than its training (8 steps)"), std::string::npos)
      << r.warnings[0];
  EXPECT_NE(r.warnings[1].find("trained at k = 7, not 2"), std::string::npos) << r.warnings[1];
  const auto info = nlohmann::json::parse(tttlab::test::read_bytes(dir / "sae.json"));
  EXPECT_EQ(info["k"], 7);
  EXPECT_EQ(info["k_target"], 2);
  EXPECT_EQ(info["warnings"].size(), r.warnings.size());
  // The full recipe (30 epochs) finishes its schedule: no warning, k is the target.
  TempDir full;
  opts.out_dir = full.path();
  const SaeTrainResult done = train_sae(x, small_config(), opts);
  EXPECT_TRUE(done.warnings.empty()) << done.warnings.front();
  EXPECT_EQ(done.sae.k, 2);
  // FVE below zero warns on its own.
  EXPECT_EQ(sae_schedule_warnings(small_config(), 1000, 2, -14.0).size(), 1u);
  EXPECT_NE(sae_schedule_warnings(small_config(), 1000, 2, -14.0)[0].find("FVE is -14.000 < 0"), std::string::npos);
}

TEST_F(Sae, ResumedRunEqualsUninterruptedRun) {
  SaeConfig c = small_config();
  c.dropout = 0.5;  // random draws must continue exactly after the resume
  c.pre_bias = true;
  const auto x = sparse_world(300, 6);
  TempDir a, b;
  SaeTrainOptions oa;
  oa.out_dir = a.path();
  const SaeTrainResult full = train_sae(x, c, oa);

  SaeTrainOptions ob;
  ob.out_dir = b.path();
  ob.stop_after_epochs = 2;
  const SaeTrainResult part = train_sae(x, c, ob);
  EXPECT_FALSE(part.finished);
  EXPECT_FALSE(std::filesystem::exists(b / "sae.safetensors"));
  ob.stop_after_epochs = 0;
  ob.resume = true;
  const SaeTrainResult resumed = train_sae(x, c, ob);
  ASSERT_TRUE(resumed.finished);
  EXPECT_TRUE(torch::equal(full.sae.encoder, resumed.sae.encoder));
  EXPECT_TRUE(torch::equal(full.sae.decoder, resumed.sae.decoder));
  EXPECT_TRUE(torch::equal(full.sae.pre_bias, resumed.sae.pre_bias));
  ASSERT_EQ(resumed.history.size(), full.history.size());
  for (size_t i = 0; i < full.history.size(); ++i) {
    EXPECT_EQ(resumed.history[i].eval_mse, full.history[i].eval_mse) << "epoch " << i + 1;
  }
}

// The ghost check without a device sync (a lower bound on the activation counts) runs the ghost loss
// at exactly the steps the plain per-step check does, so training gives the same model.
TEST_F(Sae, BoundedInactiveCheckEqualsThePerStepCheck) {
  SaeConfig c = small_config();
  c.dead_window = 0;        // frequency since the start: the counts only grow
  c.dead_threshold = 2e-2;  // some early steps have inactive units, later ones none
  c.epochs = 6;
  const auto x = sparse_world(512, 8);
  TempDir a, b;
  SaeTrainOptions oa, ob;
  oa.out_dir = a.path();
  oa.bound_inactive_units = false;
  ob.out_dir = b.path();
  const SaeTrainResult plain = train_sae(x, c, oa), bounded = train_sae(x, c, ob);
  int64_t ghost_steps = 0, steps = 0;
  for (size_t i = 0; i < plain.history.size(); ++i) {
    EXPECT_EQ(bounded.history[i].ghost_steps, plain.history[i].ghost_steps) << "epoch " << i + 1;
    ghost_steps += plain.history[i].ghost_steps;
    steps = plain.history[i].step;
  }
  EXPECT_GT(ghost_steps, 0);      // the ghost loss ran ...
  EXPECT_LT(ghost_steps, steps);  // ... and the bound had steps to skip
  EXPECT_TRUE(torch::equal(plain.sae.encoder, bounded.sae.encoder));
  EXPECT_TRUE(torch::equal(plain.sae.decoder, bounded.sae.decoder));
}

// MSE and FVE by hand, and over more rows than one block of the two-pass computation (65,536)
// against the whole-matrix formula.
TEST_F(Sae, ReconstructionQualityByHandAndAcrossBlocks) {
  const auto x = torch::tensor({{1.0, 2.0}, {3.0, 4.0}}), x_hat = torch::tensor({{1.0, 1.0}, {3.0, 5.0}});
  const ReconstructionQuality q = reconstruction_quality(x, x_hat);
  EXPECT_DOUBLE_EQ(q.mse, 0.5);              // (0 + 1 + 0 + 1) / 4
  EXPECT_DOUBLE_EQ(q.fve, 1.0 - 2.0 / 4.0);  // sst = 1 + 1 + 1 + 1
  torch::manual_seed(3);
  const auto big = torch::randn({70000, 3}) + 2.0, big_hat = big + 0.1 * torch::randn({70000, 3});
  const auto xd = big.to(torch::kDouble), hd = big_hat.to(torch::kDouble);
  const double sse = (xd - hd).pow(2).sum().item<double>(), sst = (xd - xd.mean(0)).pow(2).sum().item<double>();
  const ReconstructionQuality b = reconstruction_quality(big, big_hat);
  EXPECT_NEAR(b.mse, sse / 210000.0, 1e-12);
  EXPECT_NEAR(b.fve, 1.0 - sse / sst, 1e-12);
}

TEST_F(Sae, BadInputsAreInputErrors) {
  TempDir dir;
  SaeTrainOptions opts;
  opts.out_dir = dir.path();
  auto x = sparse_world(64, 7);
  SaeConfig c = small_config();
  c.epochs = 1;
  auto bad = x.clone();
  bad[3][2] = std::numeric_limits<float>::quiet_NaN();
  test::expect_input_error([&] { train_sae(bad, c, opts); }, "NaN");
  SaeConfig big_k = c;
  big_k.k = 100;
  test::expect_input_error([&] { train_sae(x, big_k, opts); }, "k=100");
  SaeConfig bad_dropout = c;
  bad_dropout.dropout = 1.0;
  test::expect_input_error([&] { train_sae(x, bad_dropout, opts); }, "dropout");
  // A finished run's checkpoint is not overwritten without --resume; resume needs the same settings.
  train_sae(x, c, opts);
  test::expect_input_error([&] { train_sae(x, c, opts); }, "--resume");
  opts.resume = true;
  SaeConfig other = c;
  other.lr = 0.5;
  test::expect_input_error([&] { train_sae(x, other, opts); }, "lr=");
  test::expect_input_error([&] { load_sae(dir / "missing"); }, "sae.json");
  const TopKSae sae = load_sae(dir.path());
  test::expect_input_error([&] { sae_encode(sae, torch::zeros({3, 5})); }, "width 5");
}

// load_sae refuses every SAE folder it could not use: NaN or Inf in any weight, weights whose shapes
// disagree with sae.json, and k outside 1..latent_dim.
TEST_F(Sae, LoadRefusesNonFiniteWeightsWrongShapesAndBadK) {
  TempDir dir;
  const TopKSae good = init_sae(6, 10, 3, true, 1, torch::randn({6}));
  ASSERT_TRUE(good.pre_bias.defined());
  save_sae(dir / "good", good, {});
  const TopKSae loaded = load_sae(dir / "good");
  EXPECT_TRUE(loaded.encoder.equal(good.encoder));
  EXPECT_TRUE(loaded.pre_bias.equal(good.pre_bias));

  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  int case_number = 0;
  for (const char* part : {"encoder", "decoder", "pre_bias"}) {
    for (const float bad_value : {nan, inf, -inf}) {
      TopKSae bad = good;
      bad.encoder = good.encoder.clone();
      bad.decoder = good.decoder.clone();
      bad.pre_bias = good.pre_bias.clone();
      torch::Tensor& target = std::string(part) == "encoder"   ? bad.encoder
                              : std::string(part) == "decoder" ? bad.decoder
                                                               : bad.pre_bias;
      target.view({-1})[target.numel() / 2] = bad_value;
      const auto folder = dir / ("bad" + std::to_string(case_number++));
      save_sae(folder, bad, {});
      SCOPED_TRACE(::testing::Message() << part << " holding " << bad_value);
      test::expect_input_error([&] { load_sae(folder); }, (folder / "sae.safetensors").string(),
                               {"the weights hold NaN or Inf"});
    }
  }

  // Weights of another SAE (8 inputs) under this one's sae.json (6 inputs).
  save_sae(dir / "wide", init_sae(8, 10, 3, true, 1, torch::randn({8})), {});
  std::filesystem::create_directories(dir / "mixed");
  std::filesystem::copy_file(dir / "good" / "sae.json", dir / "mixed" / "sae.json");
  std::filesystem::copy_file(dir / "wide" / "sae.safetensors", dir / "mixed" / "sae.safetensors");
  test::expect_input_error([&] { load_sae(dir / "mixed"); }, (dir / "mixed" / "sae.safetensors").string(),
                           {"'encoder.weight' has shape [10, 8], expected [10, 6]"});

  // k against the latent width: 10 is the most, 11 and 0 are refused.
  const std::string json = test::read_bytes(dir / "good" / "sae.json");
  const auto with_k = [&](int64_t k) {
    auto j = nlohmann::json::parse(json);
    j["k"] = k;
    test::write_bytes(dir / "good" / "sae.json", j.dump());
  };
  with_k(10);
  EXPECT_EQ(load_sae(dir / "good").k, 10);
  for (const int64_t bad_k : {11, 0}) {
    with_k(bad_k);
    test::expect_input_error([&] { load_sae(dir / "good"); }, (dir / "good" / "sae.json").string(),
                             {"bad sizes", "latent_dim=10", "k=" + std::to_string(bad_k)});
  }
}

}  // namespace
