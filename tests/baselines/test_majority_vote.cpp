#include <gtest/gtest.h>

#include "test_support.hpp"

#include <string>

#include <torch/torch.h>

#include "tttlab/baselines/majority_vote.hpp"
#include "tttlab/core/error.hpp"

namespace {

torch::Tensor rows(std::initializer_list<int64_t> v, int64_t k) {
  return torch::tensor(std::vector<int64_t>(v), torch::kLong).reshape({-1, k});
}

using tttlab::test::expect_input_error;

TEST(MajorityVote, HandWorkedRows) {
  const auto labels = rows(
      {
          2, 1, 1, 1, 0,  // clear majority: 1 (3 of 5) though the nearest says 2
          3, 0, 0, 3, 1,  // 2-2 tie between 3 and 0: nearest is 3
          0, 3, 3, 0, 1,  // 2-2 tie between 0 and 3: nearest is 0
          1, 2, 0, 4, 4,  // 4 wins with 2 votes
          // Ties whose tied label seen last differs from the one seen first: a
          // farthest-first rule would answer 0, 3 and 1 here.
          3, 0, 3, 0, 1,  // 2-2 tie between 3 and 0: nearest is 3
          0, 3, 0, 3, 2,  // 2-2 tie between 0 and 3: nearest is 0
          2, 4, 1, 4, 2,  // 2-2 tie between 2 and 4, 1 in between: nearest is 2
      },
      5);
  const auto mv = tttlab::majority_vote(labels, 5);
  EXPECT_TRUE(torch::equal(mv.pred, torch::tensor({1, 3, 0, 4, 3, 0, 2}, torch::kLong))) << mv.pred;
  ASSERT_EQ(mv.votes.scalar_type(), torch::kFloat);
  ASSERT_EQ(mv.votes.sizes(), (std::vector<int64_t>{7, 5}));
  EXPECT_TRUE(torch::allclose(mv.votes[0], torch::tensor({0.2f, 0.6f, 0.2f, 0.f, 0.f})));
  EXPECT_TRUE(torch::allclose(mv.votes[1], torch::tensor({0.4f, 0.2f, 0.f, 0.4f, 0.f})));
  EXPECT_TRUE(torch::allclose(mv.votes.sum(1), torch::ones({7})));
}

TEST(MajorityVote, ThreeWayTieGoesToTheNearest) {
  const auto mv = tttlab::majority_vote(rows({2, 0, 1, 1, 2, 0}, 3), 3);
  EXPECT_TRUE(torch::equal(mv.pred, torch::tensor({2, 1}, torch::kLong)));
  EXPECT_TRUE(torch::allclose(mv.votes, torch::full({2, 3}, 1.f / 3)));
}

TEST(MajorityVote, KUsedTruncates) {
  const auto labels = rows({0, 1, 1, 2, 2, 2, 2}, 7);  // all 7: 2 wins; first 3: 1 wins; first 1: 0
  EXPECT_EQ(tttlab::majority_vote(labels, 3).pred.item<int64_t>(), 2);
  EXPECT_EQ(tttlab::majority_vote(labels, 3, 7).pred.item<int64_t>(), 2);
  EXPECT_EQ(tttlab::majority_vote(labels, 3, 3).pred.item<int64_t>(), 1);
  EXPECT_EQ(tttlab::majority_vote(labels, 3, 2).pred.item<int64_t>(), 0);  // 1-1 tie: nearest is 0
  EXPECT_EQ(tttlab::majority_vote(labels, 3, 1).pred.item<int64_t>(), 0);
  const auto v = tttlab::majority_vote(labels, 3, 3).votes;
  EXPECT_TRUE(torch::allclose(v, torch::tensor({1.f / 3, 2.f / 3, 0.f}).reshape({1, 3})));
  // int32 labels work the same.
  EXPECT_EQ(tttlab::majority_vote(labels.to(torch::kInt), 3, 3).pred.item<int64_t>(), 1);
}

TEST(MajorityVote, InputErrors) {
  const auto labels = rows({0, 1, 2, 1}, 2);
  expect_input_error([&] { tttlab::majority_vote(labels, 2); }, "must be in [0, 2), got values in [0, 2]");
  expect_input_error([&] { tttlab::majority_vote(rows({0, -1}, 2), 3); }, "got values in [-1, 0]");
  expect_input_error([&] { tttlab::majority_vote(labels, 3, 3); }, "k_used=3 but 2 neighbours were given");
  expect_input_error([&] { tttlab::majority_vote(labels, 3, 0); }, "k_used=0");
  expect_input_error([&] { tttlab::majority_vote(torch::zeros({4}, torch::kLong), 3); }, "2-D [M, k]");
  expect_input_error([&] { tttlab::majority_vote(labels.to(torch::kFloat), 3); }, "must be integers");
}

}  // namespace
