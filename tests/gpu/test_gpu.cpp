// GPU tests (built only when LibTorch has CUDA; run with `make gpu-test` on the GPU machine).
// The fused CUDA step against the LibTorch batched path (its reference) and the per-point
// reference; the CUDA k-NN, training and feature paths against the CPU ones; the CLI on --device cuda.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <ATen/Context.h>
#include <nlohmann/json.hpp>

#include "tttlab/core/device.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/encoder/sentence_encoder.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/lm/hf_checkpoint.hpp"
#include "tttlab/lm/lora.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/neighbors/sparse_search.hpp"
#include "tttlab/sae/concept_chunks.hpp"
#include "tttlab/sae/sae_train.hpp"
#include "tttlab/sae/top_k_sae.hpp"
#include "tttlab/train/global_train.hpp"
#include "tttlab/ttt/fused_step.hpp"
#include "tttlab/ttt/local_fit.hpp"
#include "encoder/encoder_fixtures.hpp"
#include "lm/lm_fixtures.hpp"
#include "test_support.hpp"
#include "ttt_problem.hpp"

using namespace tttlab;

namespace {

const torch::Device kCuda(torch::kCUDA, 0);

class Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    set_progress_enabled(false);
    // The agreement tests compare float32 paths: no TF32 in the matrix products.
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }
};

using test::kCudaFloat32Tol;
using test::kFloat32Tol;

// Labels from a random linear teacher on the features, neighbours drawn at random from the
// training set (the engine does not care how they were found).
TttProblem make_problem(int64_t n, int64_t m, int64_t d, int64_t c, int64_t k, uint64_t seed) {
  TttProblemSpec spec;
  spec.n = n;
  spec.m = m;
  spec.d = d;
  spec.c = c;
  spec.k = k;
  spec.seed = seed;
  spec.feature_scale = 1 / std::sqrt(static_cast<double>(d));
  spec.head_scale = 0.1;
  spec.bias_scale = 0.01;
  spec.teacher_labels = true;
  spec.nearest_neighbors = false;
  return make_ttt_problem(spec);
}

double agreement(const torch::Tensor& a, const torch::Tensor& b) {
  return a.eq(b).to(torch::kDouble).mean().item<double>();
}

LocalFitConfig cuda_config(int64_t k, int64_t steps, double lr, bool fused) {
  LocalFitConfig cfg;
  cfg.k = k;
  cfg.steps = steps;
  cfg.lr = lr;
  cfg.device = kCuda;
  cfg.fused = fused;
  return cfg;
}

}  // namespace

TEST_F(Gpu, FusedStepIsBuilt) { EXPECT_TRUE(have_fused_step()); }

// The GPU benchmark's ImageNet-sized setting (C=1000, d=512, k=50, T=80, lr 0.02 as in E.3): heads
// within 1e-4 relative, predictions on at least 99.9% of the points.
TEST_F(Gpu, FusedMatchesLibTorchBatchedAtImageNetShape) {
  const TttProblem p = make_problem(5000, 2000, 512, 1000, 50, 1);
  auto cfg = cuda_config(50, 80, 0.02, /*fused=*/false);
  const auto ref = local_fit_batched(p.head, p.data, cfg);
  cfg.fused = true;
  const auto fast = local_fit_batched(p.head, p.data, cfg);
  EXPECT_GE(agreement(fast.pred, ref.pred), 0.999);
  EXPECT_LT(max_relative_difference(fast.logits, ref.logits), kCudaFloat32Tol);

  // Adapted heads of the first 64 points.
  LocalFitData few = p.data;
  few.test_x = p.data.test_x.slice(0, 0, 64);
  few.test_y = p.data.test_y.slice(0, 0, 64);
  few.neighbors = p.data.neighbors.slice(0, 0, 64);
  cfg.keep_heads = true;
  cfg.fused = false;
  const auto ref_heads = local_fit_batched(p.head, few, cfg);
  cfg.fused = true;
  const auto fast_heads = local_fit_batched(p.head, few, cfg);
  EXPECT_LT(max_relative_difference(fast_heads.weights, ref_heads.weights), kCudaFloat32Tol);
  EXPECT_LT(max_relative_difference(fast_heads.biases, ref_heads.biases), kCudaFloat32Tol);
  // TTT moved the heads: the comparison is not between two copies of the global head.
  EXPECT_GT((ref_heads.weights[0] - p.head.weight).abs().max().item<double>(), 1e-2);
}

// Shapes that are not multiples of the kernel's 64 x 64 tiles, weight decay, other betas, the
// sequential mode, batches of several sizes.
TEST_F(Gpu, FusedMatchesLibTorchBatchedOnEdgeShapesAndOptions) {
  struct Case {
    int64_t d, c, k, steps;
    double lr, wd, beta1, beta2;
    LocalFitMode mode;
    int64_t per_batch;
  };
  for (const Case& cs : {Case{50, 10, 100, 100, 0.1, 0.0, 0.9, 0.999, LocalFitMode::Erm, 0},
                         Case{33, 7, 17, 25, 0.05, 0.01, 0.8, 0.99, LocalFitMode::Erm, 9},
                         Case{68, 12, 21, 30, 0.05, 0.0, 0.9, 0.999, LocalFitMode::Erm, 5},  // 16-byte path, edges
                         Case{68, 12, 21, 30, 0.05, 0.01, 0.9, 0.999, LocalFitMode::Erm, 0},
                         Case{130, 65, 20, 40, 0.02, 0.0, 0.9, 0.999, LocalFitMode::Sequential, 0},
                         Case{1, 2, 1, 5, 0.1, 0.0, 0.9, 0.999, LocalFitMode::Erm, 1}}) {
    SCOPED_TRACE(::testing::Message() << "d=" << cs.d << " C=" << cs.c << " k=" << cs.k);
    const TttProblem p = make_problem(400, 37, cs.d, cs.c, cs.k, 2);
    auto cfg = cuda_config(cs.k, cs.steps, cs.lr, false);
    cfg.weight_decay = cs.wd;
    cfg.beta1 = cs.beta1;
    cfg.beta2 = cs.beta2;
    cfg.mode = cs.mode;
    cfg.points_per_batch = cs.per_batch;
    cfg.keep_heads = true;
    const auto ref = local_fit_batched(p.head, p.data, cfg);
    cfg.fused = true;
    const auto fast = local_fit_batched(p.head, p.data, cfg);
    EXPECT_LT(max_relative_difference(fast.weights, ref.weights), kCudaFloat32Tol);
    EXPECT_LT(max_relative_difference(fast.biases, ref.biases), kCudaFloat32Tol);
    EXPECT_TRUE(fast.pred.equal(ref.pred));
  }
}

// The row-space first moment (m = m_coef^T x) against the stored one, step by step at the benchmark's
// shape: the same heads up to float rounding after 80 steps, and both moved away from the start.
TEST_F(Gpu, RowSpaceFirstMomentMatchesTheStoredOne) {
  torch::manual_seed(7);
  const int64_t bsz = 16, c = 1000, d = 512, k = 50;
  const auto opts = torch::TensorOptions().device(kCuda);
  const auto x = torch::randn({bsz, k, d}, opts) / std::sqrt(static_cast<double>(d));
  const auto labels = torch::randint(c, {bsz, k}, opts.dtype(torch::kLong));
  const auto w0 = 0.1 * torch::randn({bsz, c, d}, opts);
  auto w = w0.clone(), w_m = torch::zeros_like(w), w_v = torch::zeros_like(w);
  auto b = torch::zeros({bsz, c}, opts), b_m = torch::zeros_like(b), b_v = torch::zeros_like(b);
  auto w2 = w0.clone(), w2_v = torch::zeros_like(w), b2 = b.clone(), b2_m = b.clone(), b2_v = b.clone();
  auto m_coef = torch::zeros({bsz, k, c}, opts);
  auto logits = torch::empty({bsz, k, c}, opts), logits2 = torch::empty_like(logits);
  auto m_coef_next = torch::full({bsz, k, c}, 7.0, opts);  // garbage: only ever written
  const AdamHyper h{0.02, 0.9, 0.999, 1e-8, 0.0};
  for (int64_t t = 1; t <= 80; ++t) {
    fused_ce_adam_step_(w, b, w_m, w_v, b_m, b_v, x, labels, logits, t, h);
    fused_ce_adam_step_row_space_(w2, b2, m_coef, m_coef_next, w2_v, b2_m, b2_v, x, labels, logits2, t, h);
  }
  EXPECT_LT(max_relative_difference(w2, w), kFloat32Tol);
  EXPECT_LT(max_relative_difference(b2, b), kFloat32Tol);
  EXPECT_LT(max_relative_difference(w2_v, w_v), kFloat32Tol);
  // The coefficients after the last step reproduce the stored moment.
  EXPECT_LT(max_relative_difference(torch::bmm(m_coef.transpose(1, 2), x), w_m), kCudaFloat32Tol);
  EXPECT_GT((w - w0).abs().max().item<double>(), 1e-2);
  // Weight decay puts W itself into the gradient, which leaves the row space: refused.
  EXPECT_THROW(fused_ce_adam_step_row_space_(w2, b2, m_coef, m_coef_next, w2_v, b2_m, b2_v, x, labels, logits2, 81,
                                             AdamHyper{0.02, 0.9, 0.999, 1e-8, 0.01}),
               c10::Error);
}

// The fused path against the plain per-point protocol (autograd + torch::optim::Adam) on the GPU,
// and against the batched path on the CPU.
TEST_F(Gpu, FusedMatchesPerPointReferenceAndTheCpu) {
  const TttProblem p = make_problem(1000, 12, 64, 20, 30, 3);
  auto cfg = cuda_config(30, 50, 0.05, true);
  cfg.keep_heads = true;
  const auto fast = local_fit_batched(p.head, p.data, cfg);
  const auto ref = local_fit_reference(p.head, p.data, cfg);
  EXPECT_LT(max_relative_difference(fast.weights, ref.weights), kCudaFloat32Tol);
  EXPECT_TRUE(fast.pred.equal(ref.pred));
  cfg.device = torch::kCPU;
  const auto cpu = local_fit_batched(p.head, p.data, cfg);
  EXPECT_LT(max_relative_difference(fast.weights, cpu.weights), kCudaFloat32Tol);
  EXPECT_TRUE(fast.pred.equal(cpu.pred));
}

TEST_F(Gpu, AutomaticBatchSizeComesFromFreeGpuMemory) {
  LocalFitConfig cfg;
  cfg.device = kCuda;
  const int64_t budget = cfg.effective_memory_budget();
  EXPECT_GT(budget, int64_t{1} << 30);  // a GPU with memory free gets more than 1 GB
  EXPECT_LE(budget, free_device_memory(kCuda));
  // The fused step keeps two copies of the head per point (W and v; m lives in the row space), three
  // with weight decay (W and two moments); LibTorch's path eight.
  const int64_t head_bytes = int64_t{1000} * 512 * 4;
  const int64_t per_batch = local_fit_points_per_batch(1000, 512, 50, 4, cfg);
  EXPECT_GT(per_batch, 100);
  EXPECT_LT(per_batch * 2 * head_bytes, free_device_memory(kCuda));
  cfg.weight_decay = 0.01;
  const int64_t per_batch_stored_moment = local_fit_points_per_batch(1000, 512, 50, 4, cfg);
  EXPECT_LT(per_batch_stored_moment, per_batch);
  EXPECT_LT(per_batch_stored_moment * 3 * head_bytes, free_device_memory(kCuda));
  cfg.weight_decay = 0.0;
  cfg.fused = false;
  const int64_t per_batch_libtorch = local_fit_points_per_batch(1000, 512, 50, 4, cfg);
  EXPECT_LT(per_batch_libtorch, per_batch);
  EXPECT_LT(per_batch_libtorch * 8 * head_bytes, free_device_memory(kCuda));
}

// SAE training on CUDA (gathering decode, fused Adam) against the CPU's (dense decode, element-wise
// Adam): without dropout (its random numbers differ between devices) the two trajectories agree.
TEST_F(Gpu, SaeTrainingOnCudaMatchesTheCpu) {
  torch::manual_seed(6);
  const auto x = torch::randn({2048, 32});
  SaeConfig cfg;
  cfg.latent_dim = 128;
  cfg.k = 8;
  cfg.dropout = 0;
  cfg.batch_size = 512;
  cfg.epochs = 2;
  cfg.lr = 1e-3;
  cfg.warmup_steps = 1;
  cfg.k_anneal_steps = 1;
  cfg.ghost_weight = 0;  // its weight of 1e6 would magnify rounding differences
  test::TempDir cpu_dir, gpu_dir;
  SaeTrainOptions opts;
  opts.out_dir = cpu_dir.path();
  const SaeTrainResult cpu = train_sae(x, cfg, opts);
  opts.out_dir = gpu_dir.path();
  opts.device = kCuda;
  const SaeTrainResult gpu = train_sae(x, cfg, opts);
  EXPECT_LT(max_relative_difference(gpu.sae.encoder, cpu.sae.encoder), kCudaFloat32Tol);
  EXPECT_LT(max_relative_difference(gpu.sae.decoder, cpu.sae.decoder), kCudaFloat32Tol);
  EXPECT_NEAR(gpu.history.back().train_mse, cpu.history.back().train_mse, 1e-4 * cpu.history.back().train_mse);
  const TopKSae init = init_sae(32, 128, 8, true, cfg.seed);
  EXPECT_GT((cpu.sae.encoder - init.encoder).abs().max().item<double>(), 1e-3);  // training moved it
}

TEST_F(Gpu, KnnOnCudaEqualsCpu) {
  torch::manual_seed(4);
  const auto train = torch::randn({20000, 64});
  const auto queries = torch::randn({3000, 64});
  const auto cpu = knn_search(train, queries, 50, "torch", torch::kCPU);
  const auto gpu = knn_search(train.to(kCuda), queries.to(kCuda), 50, "torch", kCuda);
  EXPECT_TRUE(gpu.indices.is_cuda());
  EXPECT_TRUE(gpu.indices.cpu().equal(cpu.indices));
  EXPECT_LT((gpu.distances.cpu() - cpu.distances).abs().max().item<double>(), 1e-4);
  // The CPU-resident queries get CPU results from a CUDA index.
  const auto mixed = knn_search(train, queries, 50, "auto", kCuda);
  EXPECT_TRUE(mixed.indices.is_cpu());
  EXPECT_TRUE(mixed.indices.equal(cpu.indices));
}

TEST_F(Gpu, SparseKnnOnCudaEqualsCpu) {
  torch::manual_seed(8);
  auto sparse = [](int64_t n) {
    return SparseRows{std::get<1>(torch::rand({n, 512}).topk(16, 1)), torch::rand({n, 16}), 512};
  };
  const SparseRows train = sparse(20000), queries = sparse(3000);
  const auto cpu = knn_search_sparse(train, queries, 50, torch::kCPU);
  const auto gpu = knn_search_sparse(train, queries, 50, kCuda);
  EXPECT_TRUE(gpu.indices.equal(cpu.indices));
  EXPECT_LT((gpu.distances - cpu.distances).abs().max().item<double>(), 1e-5);
}

// Concept-space TTT and masked TTT on sparse rows, chunks made dense on the GPU, against the CPU.
TEST_F(Gpu, SparseConceptTttOnCudaMatchesTheCpu) {
  torch::manual_seed(9);
  const int64_t d = 256, c = 10, k = 20;
  auto sparse = [&](int64_t n) {
    return SparseRows{std::get<1>(torch::rand({n, d}).topk(8, 1)), torch::rand({n, 8}), d};
  };
  const SparseRows train = sparse(3000), test = sparse(300);
  const auto rule = torch::randn({c, d});
  const auto ytr = torch::matmul(dense_rows(train, 0, 3000), rule.t()).argmax(1);
  const auto yte = torch::matmul(dense_rows(test, 0, 300), rule.t()).argmax(1);
  const LinearHead head{rule + torch::randn({c, d}), torch::zeros({c})};
  const auto nb = knn_search_sparse(train, test, k).indices;
  const int64_t chunk_bytes = 100 * (k + 1) * d * 4;  // three chunks
  MaskedFitConfig mc;
  mc.fit.k = k;
  mc.fit.steps = 30;
  mc.fit.lr = 0.02;
  mc.penalty = 0.02;
  const LocalFitResult cpu = local_fit_sparse(head, train, ytr, test, yte, nb, mc.fit, chunk_bytes);
  const MaskedFitResult cpu_masked = masked_fit_sparse(head, train, ytr, test, yte, nb, mc, chunk_bytes);
  mc.fit.device = kCuda;
  const LocalFitResult gpu = local_fit_sparse(head, train, ytr, test, yte, nb, mc.fit, chunk_bytes);
  const MaskedFitResult gpu_masked = masked_fit_sparse(head, train, ytr, test, yte, nb, mc, chunk_bytes);
  EXPECT_GE(agreement(gpu.pred, cpu.pred), 0.99);
  EXPECT_LT(max_relative_difference(gpu.logits, cpu.logits), kCudaFloat32Tol);
  EXPECT_GE(agreement(gpu_masked.fit.pred, cpu_masked.fit.pred), 0.99);
  EXPECT_GE(gpu_masked.masks.eq(cpu_masked.masks).to(torch::kDouble).mean().item<double>(), 0.999);
}

TEST_F(Gpu, TrainingAndFeaturesOnCudaMatchTheCpu) {
  torch::manual_seed(5);
  const auto x = torch::randn({2000, 20});
  const auto y = x.slice(1, 0, 3).argmax(1);
  TrainConfig tc{5, 100, 1e-2, 0.0, 0};
  const LinearHead cpu = train_linear_head({x, y}, 3, tc);
  tc.device = kCuda;
  TrainLog log;
  const LinearHead gpu = train_linear_head({x, y}, 3, tc, &log);
  EXPECT_TRUE(gpu.weight.is_cpu());
  EXPECT_LT(log.epoch_loss.back(), log.epoch_loss.front());
  // Same initialisation and minibatches; only rounding differs.
  EXPECT_LT(max_relative_difference(gpu.weight, cpu.weight), 1e-3);

  torch::manual_seed(6);
  FlexibleLeNet net(LeNetShape::from_scale(0.5, 10, 28));
  const auto images = torch::rand({300, 1, 28, 28});
  const auto f_cpu = extract_features(net, images, "cpu", 128);
  const auto f_gpu = extract_features(net, images, "gpu", 128, kCuda);
  EXPECT_TRUE(f_gpu.is_cpu());
  EXPECT_LT(max_relative_difference(f_gpu, f_cpu), kCudaFloat32Tol);
}

TEST_F(Gpu, CliRunsOnCuda) {
  const test::TempDir dir;
  torch::manual_seed(7);
  const auto teacher = torch::randn({4, 16});
  for (const auto* split : {"train", "test"}) {
    const int64_t n = std::string(split) == "train" ? 2000 : 300;
    const auto x = torch::randn({n, 16});
    write_npy(dir / (std::string(split) + "_features.npy"), x);
    write_npy(dir / (std::string(split) + "_labels.npy"), x.matmul(teacher.t()).argmax(1));
  }
  const auto out = dir / "out";
  const std::string cmd = std::string(TTTLAB_BINARY) + " run --quiet --device cuda --data npy:" + dir.path().string() +
                          " --out " + out.string() + " --k 20 --steps 20 --lr 0.05 --head-epochs 5 > " +
                          (dir / "log.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_bytes(dir / "log.txt");
  const auto results = nlohmann::json::parse(test::read_bytes(out / "results.json"));
  EXPECT_NE(results["config"]["device"]["used"].get<std::string>().find("cuda"), std::string::npos);
  // The default run on CUDA (float32, ERM, no weight decay) takes the row-space fused kernel.
  EXPECT_EQ(results["config"]["local_fit_path"], "fused-rowspace");
  EXPECT_GT(results["methods"]["ttt"]["accuracy"].get<double>(), 0.5);  // 4 classes: chance is 0.25
}

TEST_F(Gpu, Qwen2OnCudaMatchesTransformersAndTrainsLora) {
  const auto ids = read_npy(test::lm_fixture("input_ids.npy")).to(torch::kLong);
  const auto expected = read_npy(test::lm_fixture("logits_tied.npy"));
  auto model = lm::load_causal_lm(test::lm_fixture("tied"), {torch::kFloat, kCuda});
  {
    torch::NoGradGuard no_grad;
    const auto logits = model->forward(ids.to(kCuda)).cpu();
    EXPECT_LT((logits - expected).abs().max().item<double>(), 1e-4);
    auto bf16 = lm::load_causal_lm(test::lm_fixture("tied"), {torch::kBFloat16, kCuda});
    const auto half = bf16->forward(ids.to(kCuda)).to(torch::kFloat).cpu();
    EXPECT_GT(half.argmax(-1).eq(expected.argmax(-1)).to(torch::kFloat).mean().item<double>(), 0.8);
  }
  lm::LoraConfig lc;
  lc.rank = 8;
  lm::add_lora(model, lc, 0);
  lm::LoraTrainConfig tc;
  tc.lr = 1e-2;
  lm::LoraTrainer trainer(model, tc);
  const auto batch = ids.slice(0, 0, 1).to(kCuda);
  const double loss0 = trainer.step(batch);
  torch::NoGradGuard no_grad;
  EXPECT_LT(lm::next_token_loss(model, batch).item<double>(), loss0);
}

// The sentence encoder on CUDA: float32 equals the reference's embeddings of the fixture sentences
// (recorded on the CPU) within 1e-5, as the CPU path does; bfloat16 stays close in cosine.
TEST_F(Gpu, SentenceEncoderOnCudaEqualsTheReference) {
  using encoder::SentenceEncoder;
  const auto expected = read_npy(test::bert_fixture("tiny_embeddings.npy"));
  auto f32 = SentenceEncoder::load(test::bert_fixture("tiny"), {kCuda, torch::kFloat, 64});
  const auto ours = f32.encode(test::bert_sentences());
  ASSERT_EQ(ours.sizes(), expected.sizes());
  EXPECT_LT((ours - expected).abs().max().item<double>(), 1e-5);
  auto bf16 = SentenceEncoder::load(test::bert_fixture("tiny"), {kCuda, torch::kBFloat16, 64});
  const auto low = bf16.encode(test::bert_sentences());
  const auto cosine = (low * expected).sum(1) / (low.norm(2, 1) * expected.norm(2, 1));
  EXPECT_GT(cosine.min().item<double>(), 0.99);
}
