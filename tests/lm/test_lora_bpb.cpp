// LoRA steps (only adapters change, the loss drops, reset restores the base model) and bits per
// byte (uniform model, sliding windows that score every token once).
#include <cmath>

#include <gtest/gtest.h>

#include "lm/lm_fixtures.hpp"
#include "test_support.hpp"
#include "tttlab/lm/bits_per_byte.hpp"
#include "tttlab/lm/lora.hpp"

using namespace tttlab;
using namespace tttlab::lm;

namespace {

DecoderConfig small_config(bool tied = true) { return test::tiny_qwen2_config(61, 2, tied, 64); }

std::map<std::string, torch::Tensor> snapshot(CausalLM& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m->named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

}  // namespace

TEST(Lora, OneStepChangesOnlyAdaptersAndLowersTheLoss) {
  auto model = make_random_decoder(small_config(), 1);
  LoraConfig lc;
  lc.rank = 4;
  lc.alpha = 8;
  add_lora(model, lc, 0);
  const auto params = lora_parameters(model);
  EXPECT_EQ(params.size(), 2u * 7 * 2);  // A and B on 7 projections of 2 layers
  LoraTrainConfig tc;
  tc.lr = 1e-2;
  LoraTrainer trainer(model, tc);
  const auto before = snapshot(model);
  const auto ids = torch::randint(61, {1, 32}, torch::kLong);
  const double loss0 = trainer.step(ids);
  // B starts at 0, so the first step moves only the B matrices (A's gradient is B^T(...) = 0); the
  // second moves A too. The base weights never move.
  auto count_changed = [&](const std::map<std::string, torch::Tensor>& now, const std::string& kind) {
    int n = 0;
    for (const auto& [name, t] : before) {
      const bool changed = !t.equal(now.at(name));
      if (name.find("lora_") == std::string::npos) EXPECT_FALSE(changed) << name;
      n += changed && name.find(kind) != std::string::npos;
    }
    return n;
  };
  const auto after1 = snapshot(model);
  EXPECT_EQ(count_changed(after1, "lora_B"), 14);
  EXPECT_EQ(count_changed(after1, "lora_A"), 0);
  {
    torch::NoGradGuard no_grad;
    EXPECT_LT(next_token_loss(model, ids).item<double>(), loss0);
  }
  trainer.step(ids);
  const auto after2 = snapshot(model);
  EXPECT_EQ(count_changed(after2, "lora_A"), 14);
}

TEST(Lora, ResetRestoresTheBaseModelWithoutReloading) {
  auto model = make_random_decoder(small_config(false), 2);
  const auto ids = torch::randint(61, {1, 20}, torch::kLong);
  torch::Tensor base;
  {
    torch::NoGradGuard no_grad;
    base = model->forward(ids);
  }
  LoraConfig lc;
  lc.rank = 8;
  lc.targets = {"q_proj", "v_proj"};
  add_lora(model, lc, 3);
  LoraTrainConfig tc;
  tc.lr = 1e-2;
  LoraTrainer trainer(model, tc);
  for (int i = 0; i < 3; ++i) trainer.step(ids);
  torch::NoGradGuard no_grad;
  EXPECT_GT((model->forward(ids) - base).abs().max().item<double>(), 1e-4);
  trainer.reset();
  EXPECT_TRUE(model->forward(ids).equal(base));
  EXPECT_EQ(trainer.steps_taken(), 0);
}

TEST(Lora, SameSeedSameTrajectory) {
  auto run = [] {
    auto model = make_random_decoder(small_config(), 4);
    LoraConfig lc;
    lc.rank = 4;
    add_lora(model, lc, 0);
    LoraTrainer trainer(model, LoraTrainConfig{});
    std::vector<int64_t> tokens(100);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int64_t>((i * 7) % 61);
    return trainer.train_on_tokens(tokens);
  };
  const auto a = run(), b = run();
  EXPECT_EQ(a.size(), 1u);  // 100 tokens fit in one chunk of 1024
  EXPECT_EQ(a, b);
}

TEST(Lora, BadSettingsAreInputErrors) {
  auto model = make_random_decoder(small_config(), 5);
  LoraConfig lc;
  lc.rank = 0;
  test::expect_input_error([&] { add_lora(model, lc, 0); }, "rank");
  lc.rank = 4;
  lc.targets = {"attn"};
  test::expect_input_error([&] { add_lora(model, lc, 0); }, "attn");
  test::expect_input_error([&] { LoraTrainer(model, LoraTrainConfig{}); }, "adapters");
}

TEST(BitsPerByte, UniformModelGivesLog2VocabPerToken) {
  auto model = make_random_decoder(small_config(false), 6);
  {
    torch::NoGradGuard no_grad;
    model->lm_head->weight.zero_();  // logits 0: every token has probability 1/V
  }
  std::vector<int64_t> tokens(50, 3);
  BpbConfig cfg;
  cfg.context = 16;
  cfg.stride = 5;  // windows overlap
  cfg.prefix_token = 0;
  const auto r = bits_per_byte(model, tokens, 120, cfg);
  EXPECT_EQ(r.tokens_scored, 50);
  EXPECT_NEAR(r.bits_per_token(), std::log2(61.0), 1e-5);
  EXPECT_NEAR(r.bits_per_byte(), std::log2(61.0) * 50 / 120, 1e-5);
  cfg.prefix_token = -1;  // without a prefix the first token is not scored
  EXPECT_EQ(bits_per_byte(model, tokens, 120, cfg).tokens_scored, 49);
}

TEST(BitsPerByte, WindowsScoreEveryTokenOnceAndMatchTheDirectSum) {
  auto model = make_random_decoder(small_config(), 7);
  std::vector<int64_t> tokens(40);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int64_t>((i * 13 + 5) % 61);
  // One window holding everything equals the direct sum of -log p(token | everything before it).
  BpbConfig whole{64, 63, 1};
  const auto r = bits_per_byte(model, tokens, 100, whole);
  std::vector<int64_t> seq{1};
  seq.insert(seq.end(), tokens.begin(), tokens.end());
  const auto ids = torch::tensor(seq, torch::kLong).unsqueeze(0);
  torch::NoGradGuard no_grad;
  const auto logp = torch::log_softmax(model->forward(ids.slice(1, 0, -1)).squeeze(0), -1);
  const double direct = -logp.gather(1, ids.slice(1, 1).squeeze(0).unsqueeze(1)).sum().item<double>();
  EXPECT_NEAR(r.nll_nats, direct, 1e-3);
  EXPECT_EQ(r.windows, 1);
  // Disjoint windows equal the sum over chunks evaluated alone; overlapping ones still score each token once.
  // The expected value target by target: target t (1..40) is scored by the window whose last target
  // is L (the first window ends at context - 1, each further one `stride` later, the last at 40), and
  // sees the tokens from max(0, L + 1 - context) up to t - 1; the model is causal, so one forward over
  // exactly those tokens gives its log-probability.
  const auto expected_nll = [&](int64_t context, int64_t stride) {
    double nll = 0;
    for (int64_t t = 1; t <= 40; ++t) {
      int64_t last = context - 1;
      while (last < t) last += stride;
      last = std::min<int64_t>(last, 40);
      const int64_t begin = std::max<int64_t>(0, last + 1 - context);
      const auto lp = torch::log_softmax(model->forward(ids.slice(1, begin, t)).squeeze(0)[-1], -1);
      nll -= lp[seq[static_cast<size_t>(t)]].item<double>();
    }
    return nll;
  };
  for (const auto& [context, stride] :
       std::vector<std::pair<int64_t, int64_t>>{{8, 7}, {8, 3}, {10, 1}, {41, 7}, {2, 1}}) {
    SCOPED_TRACE(::testing::Message() << "context " << context << ", stride " << stride);
    const auto w = bits_per_byte(model, tokens, 100, BpbConfig{context, stride, 1});
    EXPECT_EQ(w.tokens_scored, 40);
    const int64_t first = std::min<int64_t>(context - 1, 40);
    EXPECT_EQ(w.windows, 1 + (40 - first + stride - 1) / stride);
    EXPECT_NEAR(w.nll_nats, expected_nll(context, stride), 1e-3);
    EXPECT_NEAR(w.bits_per_byte(), expected_nll(context, stride) / std::log(2.0) / 100, 1e-4);
  }
  // The contexts matter: with context 2 every target sees one token, with 41 all before it.
  EXPECT_GT(std::abs(expected_nll(2, 1) - expected_nll(41, 7)), 0.1);
  const auto disjoint = bits_per_byte(model, tokens, 100, BpbConfig{8, 7, 1});
  EXPECT_EQ(disjoint.windows, 6);  // 40 targets, 7 per window
  // Windows score targets 1-7, 8-14, ..., 36-40; each sees the 8 tokens ending at its last target
  // (the last window reaches back to token 33, so its first targets see more than their chunk).
  double chunks = 0;
  for (int64_t done = 0; done < 40;) {
    const int64_t last = std::min<int64_t>(done + 7, 40), begin = std::max<int64_t>(0, last + 1 - 8);
    const auto window = ids.slice(1, begin, last + 1);
    const auto lp = torch::log_softmax(model->forward(window.slice(1, 0, -1)).squeeze(0), -1);
    const auto targets = window.slice(1, 1).squeeze(0).unsqueeze(1);
    chunks -= lp.gather(1, targets).slice(0, done - begin).sum().item<double>();
    done = last;
  }
  EXPECT_NEAR(disjoint.nll_nats, chunks, 1e-3);
  test::expect_input_error([&] { bits_per_byte(model, tokens, 100, BpbConfig{8, 8, 1}); }, "stride");
}
