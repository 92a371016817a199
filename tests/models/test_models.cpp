#include <gtest/gtest.h>

#include <filesystem>

#include "tttlab/core/error.hpp"
#include "tttlab/io/safetensors.hpp"
#include "tttlab/models/flexible_lenet.hpp"
#include "tttlab/models/linear_head.hpp"
#include "test_support.hpp"

using namespace tttlab;

TEST(FlexibleLeNet, ShapesAndParameterCountsByHand) {
  const auto s = LeNetShape::from_scale(0.5);
  EXPECT_EQ(s.conv1_channels, 3);
  EXPECT_EQ(s.conv2_channels, 8);
  EXPECT_EQ(s.feature_dim, 50);  // the paper's TinyLeNet feature width (E.2)
  EXPECT_EQ(s.flat_dim(), 8 * 4 * 4);
  // conv1 3*25+3, conv2 8*3*25+8, fc1 128*50+50, head 50*10+10
  EXPECT_EQ(s.parameter_count(), 78 + 608 + 6450 + 510);
  const auto one = LeNetShape::from_scale(1.0);
  EXPECT_EQ(one.feature_dim, 100);
  EXPECT_EQ(one.parameter_count(), (6 * 25 + 6) + (16 * 6 * 25 + 16) + (256 * 100 + 100) + (100 * 10 + 10));
  // The count agrees with the module's actual parameters.
  for (const double scale : {0.05, 0.5, 1.3}) {
    FlexibleLeNet net(LeNetShape::from_scale(scale));
    int64_t n = 0;
    for (const auto& p : net->parameters()) n += p.numel();
    EXPECT_EQ(n, net->shape().parameter_count()) << scale;
    EXPECT_EQ(net->features(torch::zeros({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, net->shape().feature_dim}));
    EXPECT_EQ(net->forward(torch::zeros({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
  }
  EXPECT_THROW(LeNetShape::from_scale(0.0), InputError);
  EXPECT_THROW(LeNetShape::from_scale(-1.0), InputError);
}

TEST(FlexibleLeNet, SaveLoadRoundTripGivesTheSameOutputs) {
  torch::manual_seed(0);
  FlexibleLeNet net(LeNetShape::from_scale(0.5));
  const tttlab::test::TempDir dir;
  const auto path = dir / "lenet.safetensors";
  save_lenet(path, net);
  FlexibleLeNet back = load_lenet(path);
  const auto x = torch::rand({3, 1, 28, 28});
  EXPECT_TRUE(torch::equal(net->forward(x), back->forward(x)));
  // State-dict names of torch.nn, so Python can load it.
  const auto file = read_safetensors(path);
  EXPECT_EQ(file.tensors.count("conv1.weight"), 1u);
  EXPECT_EQ(file.tensors.count("head.bias"), 1u);
  EXPECT_EQ(file.metadata.at("size_scale"), "0.5");
}

TEST(FlexibleLeNet, LoadRejectsFilesThatAreNotOurs) {
  const tttlab::test::TempDir dir;
  const auto path = dir / "notlenet.safetensors";
  write_safetensors(path, {{"weight", torch::zeros({2, 2})}});
  try {
    load_lenet(path);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("architecture"), std::string::npos) << e.what();
  }
  // Right metadata, wrong tensor shape.
  torch::manual_seed(0);
  FlexibleLeNet net(LeNetShape::from_scale(0.5));
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& p : net->named_parameters()) tensors[p.key()] = p.value().detach();
  tensors["fc1.weight"] = torch::zeros({50, 127});
  write_safetensors(
      path, tensors,
      {{"architecture", "FlexibleLeNet"}, {"size_scale", "0.5"}, {"num_classes", "10"}, {"image_size", "28"}});
  try {
    load_lenet(path);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fc1.weight"), std::string::npos) << e.what();
  }
}

TEST(LinearHead, RoundTripAndShapeChecks) {
  const tttlab::test::TempDir dir;
  const auto path = dir / "head.safetensors";
  LinearHead head{torch::randn({4, 6}), torch::randn({4})};
  save_head(path, head);
  const auto back = load_head(path, 4, 6);
  EXPECT_TRUE(torch::equal(back.weight, head.weight));
  EXPECT_TRUE(torch::equal(back.bias, head.bias));
  EXPECT_TRUE(torch::allclose(back.logits(torch::ones({1, 6})),
                              torch::mv(head.weight, torch::ones({6})).unsqueeze(0) + head.bias));
  try {
    load_head(path, 4, 7);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("expected [4, 7]"), std::string::npos) << e.what();
  }
  // float64 heads (as Python may save them) load as float32.
  write_safetensors(path,
                    {{"weight", torch::ones({2, 3}, torch::kDouble)}, {"bias", torch::zeros({2}, torch::kDouble)}});
  EXPECT_EQ(load_head(path).weight.scalar_type(), torch::kFloat32);
  write_safetensors(
      path, {{"weight", torch::full({2, 3}, std::numeric_limits<float>::infinity())}, {"bias", torch::zeros({2})}});
  EXPECT_THROW(load_head(path), InputError);
  write_safetensors(path, {{"weight", torch::ones({2, 3})}});
  EXPECT_THROW(load_head(path), InputError);
}
