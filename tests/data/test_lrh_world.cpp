// Linear-representation worlds: determinism, shapes, unit-norm feature map, sparsity, topic structure,
// the label rule, Ψ = P·Φ, the data-set hook, export, and bad specs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tttlab/data/builtin.hpp"
#include "tttlab/data/lrh_world.hpp"
#include "tttlab/io/npy.hpp"
#include "test_support.hpp"

using namespace tttlab;
using tttlab::test::expect_input_error;
using tttlab::test::TempDir;

namespace {

LrhWorldSpec small_spec() { return parse_lrh_spec("lrh:d1=200,d2=24,s=3,classes=5,train=300,test=50,seed=7"); }

}  // namespace

TEST(LrhWorld, ParsesSpecAndDefaults) {
  const auto s = parse_lrh_spec("lrh:d1=4096,d2=512,s=16,classes=100,seed=1");
  EXPECT_EQ(s.d1, 4096);
  EXPECT_EQ(s.d2, 512);
  EXPECT_EQ(s.s, 16);
  EXPECT_EQ(s.classes, 100);
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.effective_topic_size(), 32);  // default 2 s
  EXPECT_EQ(s.topics(), 128);
  EXPECT_DOUBLE_EQ(s.in_topic, 1.0);
  // to_string round-trips
  const auto again = parse_lrh_spec(s.to_string());
  EXPECT_EQ(again.to_string(), s.to_string());
  const auto t = parse_lrh_spec("topic_size=5,in_topic=0.75,noise=0.5,classes=0");
  EXPECT_EQ(t.effective_topic_size(), 5);
  EXPECT_DOUBLE_EQ(t.in_topic, 0.75);
  EXPECT_DOUBLE_EQ(t.noise, 0.5);
  EXPECT_EQ(t.classes, 0);
}

TEST(LrhWorld, BadSpecsAreInputErrors) {
  expect_input_error([] { parse_lrh_spec("lrh:d1=abc"); }, "d1='abc'");
  expect_input_error([] { parse_lrh_spec("lrh:d1=10x"); }, "expected an integer");
  expect_input_error([] { parse_lrh_spec("lrh:colour=3"); }, "unknown key 'colour'");
  expect_input_error([] { parse_lrh_spec("lrh:d1"); }, "expected key=value");
  expect_input_error([] { parse_lrh_spec("lrh:d1=64,d1=64"); }, "d1 given twice");
  expect_input_error([] { parse_lrh_spec("lrh:d1=0"); }, "d1=0");
  expect_input_error([] { parse_lrh_spec("lrh:d1=16,s=17"); }, "s=17");
  expect_input_error([] { parse_lrh_spec("lrh:classes=1"); }, "classes=1");
  expect_input_error([] { parse_lrh_spec("lrh:in_topic=1.5"); }, "in_topic=1.5");
  expect_input_error([] { parse_lrh_spec("lrh:noise=-1"); }, "noise=-1");
  expect_input_error([] { parse_lrh_spec("lrh:noise=nan"); }, "expected a finite number");
  expect_input_error([] { parse_lrh_spec("lrh:s=4,topic_size=3"); }, "topic_size=3");
  expect_input_error([] { parse_lrh_spec("lrh:train=0"); }, "train=0");
  expect_input_error([] { parse_lrh_spec("lrh:d2=60000,train=1000000"); }, "would exceed 8 GB");
  expect_input_error([] { parse_lrh_spec("lrh:d1=64,s=4,topic_size=62,in_topic=0.5"); }, "outside a topic");
  expect_input_error([] { load_dataset("lrh:classes=0,d1=32,d2=4,s=2,train=5,test=5"); }, "regression world");
}

TEST(LrhWorld, ShapesSparsityAndUnitColumns) {
  const auto spec = small_spec();
  const auto w = make_lrh_world(spec);
  EXPECT_EQ(w.feature_map.sizes(), (std::vector<int64_t>{24, 200}));
  EXPECT_EQ(w.ground_truth.sizes(), (std::vector<int64_t>{5, 200}));
  EXPECT_EQ(w.topic_support.sizes(), (std::vector<int64_t>{33, 6}));  // floor(200 / 6) topics of 2 s
  const auto norms = w.feature_map.pow(2).sum(0).sqrt();
  EXPECT_LT((norms - 1).abs().max().item<double>(), 1e-12);
  // topics are disjoint
  std::set<int64_t> seen;
  for (int64_t i = 0; i < w.topic_support.numel(); ++i)
    EXPECT_TRUE(seen.insert(w.topic_support.view(-1)[i].item<int64_t>()).second);
  for (const LrhSample* sample : {&w.train, &w.test}) {
    const int64_t n = sample->size();
    EXPECT_EQ(sample->concept_ids.sizes(), (std::vector<int64_t>{n, 3}));
    EXPECT_EQ(sample->psi.sizes(), (std::vector<int64_t>{n, 24}));
    const auto phi = sample->phi_dense(200);
    // exactly s active concepts, values in [0.5, 1.5], drawn from the point's topic (in_topic = 1)
    EXPECT_TRUE(phi.ne(0).sum(1).eq(3).all().item<bool>());
    EXPECT_GE(sample->concept_values.min().item<double>(), 0.5);
    EXPECT_LT(sample->concept_values.max().item<double>(), 1.5);
    for (int64_t r = 0; r < n; ++r) {
      const auto support = w.topic_support[sample->topic[r].item<int64_t>()];
      for (int64_t j = 0; j < 3; ++j) EXPECT_TRUE(support.eq(sample->concept_ids[r][j]).any().item<bool>());
    }
    // Ψ = P·Φ, and the label rule with the clean logits W*·Φ
    EXPECT_LT((sample->psi - phi.matmul(w.feature_map.t())).abs().max().item<double>(), 1e-12);
    EXPECT_LT((sample->clean - phi.matmul(w.ground_truth.t())).abs().max().item<double>(), 1e-12);
  }
  // noise 0.1 on logits of scale ~sqrt(3): most labels are the argmax of the clean logits, not all
  const double agree = w.train.clean.argmax(1).eq(w.train.target).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(agree, 0.85);
  EXPECT_LT(agree, 1.0);
  const auto noiseless =
      make_lrh_world(parse_lrh_spec("lrh:d1=200,d2=24,s=3,classes=5,train=300,test=50,seed=7,noise=0"));
  EXPECT_TRUE(noiseless.train.clean.argmax(1).eq(noiseless.train.target).all().item<bool>());
}

TEST(LrhWorld, OffTopicConceptsAndRegressionTargets) {
  const auto w =
      make_lrh_world(parse_lrh_spec("lrh:d1=300,d2=16,s=4,classes=0,in_topic=0.5,noise=0.2,train=2000,test=10,seed=3"));
  EXPECT_EQ(w.ground_truth.sizes(), (std::vector<int64_t>{300}));
  int64_t in = 0;
  for (int64_t r = 0; r < w.train.size(); ++r) {
    const auto support = w.topic_support[w.train.topic[r].item<int64_t>()];
    for (int64_t j = 0; j < 4; ++j) in += support.eq(w.train.concept_ids[r][j]).any().item<bool>();
    EXPECT_EQ(std::get<0>(at::_unique(w.train.concept_ids[r])).numel(), 4);
  }
  const double frac = static_cast<double>(in) / (4.0 * 2000);
  EXPECT_NEAR(frac, 0.5, 0.03);
  const auto residual = w.train.target - w.train.phi_dense(300).matmul(w.ground_truth);
  EXPECT_NEAR(residual.std().item<double>(), 0.2, 0.02);
}

TEST(LrhWorld, DeterministicFromTheSeed) {
  const auto a = make_lrh_world(small_spec());
  const auto b = make_lrh_world(small_spec());
  EXPECT_TRUE(torch::equal(a.feature_map, b.feature_map));
  EXPECT_TRUE(torch::equal(a.train.psi, b.train.psi));
  EXPECT_TRUE(torch::equal(a.train.target, b.train.target));
  EXPECT_TRUE(torch::equal(a.test.concept_ids, b.test.concept_ids));
  auto other_seed = small_spec();
  other_seed.seed = 8;
  EXPECT_FALSE(torch::equal(a.feature_map, make_lrh_world(other_seed).feature_map));
  // The splits are separate streams: a different test size leaves the training set as it was.
  auto more_test = small_spec();
  more_test.test = 70;
  const auto c = make_lrh_world(more_test);
  EXPECT_TRUE(torch::equal(a.train.psi, c.train.psi));
  EXPECT_TRUE(torch::equal(a.test.psi, c.test.psi.slice(0, 0, 50)));
  // Pinned values: the generator is our own (mt19937_64 + Box-Muller), so these hold on every machine.
  PortableRng rng(1, 2);
  EXPECT_EQ(rng.next(), uint64_t{4046469825680300956ULL});
}

TEST(LrhWorld, NormalGeneratorMoments) {
  PortableRng rng(11);
  double sum = 0, sum2 = 0, sum4 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    sum += z, sum2 += z * z, sum4 += z * z * z * z;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum2 / n, 1.0, 0.015);
  EXPECT_NEAR(sum4 / n, 3.0, 0.08);
}

TEST(LrhWorld, UsableAsDataSetAndExportable) {
  const std::string spec = "lrh:d1=200,d2=24,s=3,classes=5,train=300,test=50,seed=7";
  const Dataset d = load_dataset(spec);
  EXPECT_EQ(d.train.x.sizes(), (std::vector<int64_t>{300, 24}));
  EXPECT_EQ(d.train.x.scalar_type(), torch::kFloat);
  EXPECT_EQ(d.num_classes, 5);
  EXPECT_FALSE(d.is_images);
  TempDir dir;
  const auto world = make_lrh_world(parse_lrh_spec(spec));
  export_lrh_world(world, dir.path());
  const Dataset back = load_dataset(dir.path().string());
  EXPECT_TRUE(torch::equal(back.train.x, d.train.x));
  EXPECT_TRUE(torch::equal(back.test.y, d.test.y));
  EXPECT_TRUE(torch::equal(read_npy(dir / "feature_map.npy"), world.feature_map));
  EXPECT_TRUE(torch::equal(read_npy(dir / "train_concept_ids.npy"), world.train.concept_ids));
  EXPECT_TRUE(torch::equal(read_npy(dir / "test_concept_values.npy"), world.test.concept_values));
  EXPECT_TRUE(torch::equal(read_npy(dir / "ground_truth.npy"), world.ground_truth));
  const auto meta = nlohmann::json::parse(tttlab::test::read_bytes(dir / "world.json"));
  EXPECT_EQ(meta["spec"], world.spec.to_string());
  EXPECT_EQ(meta["topics"], 33);
}
