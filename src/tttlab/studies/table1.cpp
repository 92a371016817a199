#include "tttlab/studies/table1.hpp"

#include <chrono>

#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/neighbors/sparse_search.hpp"
#include "tttlab/sae/concept_chunks.hpp"
#include "tttlab/sae/sae_dataset.hpp"
#include "tttlab/sae/sae_train.hpp"
#include "tttlab/studies/presets.hpp"

namespace tttlab {

namespace fs = std::filesystem;

Table1Config::Table1Config() {
  // E.3 and section 3.1: the global heads' training and TTT (k 50, 80 full-batch Adam steps, lr 0.02)
  StudyConfig study;
  apply_preset(study_preset(preset), study);
  head_train = study.head_train;
  ttt = study.ttt;
  masked.penalty = 0.2;
  masked.temperature = 0.1;
}

MaskedFitConfig Table1Config::effective_masked() const {
  MaskedFitConfig m = masked;
  m.fit = ttt;
  if (masked_steps > 0) m.fit.steps = masked_steps;
  if (masked_lr > 0) m.fit.lr = masked_lr;
  return m;
}

std::vector<std::pair<std::string, std::string>> table1_comparisons() {
  return {{"ttt_psi_hat", "global_psi_hat"},
          {"ttt_phi_hat", "global_phi_hat"},
          {"masked_ttt_phi_hat", "global_phi_hat"},
          {"masked_ttt_phi_hat", "ttt_psi_hat"},
          {"nonadaptive_ttt_phi_hat", "masked_ttt_phi_hat"},
          {"ttt_psi", "global_psi"}};
}

namespace {

class Clock {
 public:
  explicit Clock(std::vector<std::pair<std::string, double>>& out) : out_(out) {}
  void lap(const std::string& stage) {
    const auto now = std::chrono::steady_clock::now();
    out_.emplace_back(stage, std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }

 private:
  std::vector<std::pair<std::string, double>>& out_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace

Table1Result run_table1(const Table1Config& cfg, const fs::path& out_dir) {
  Table1Result r;
  Clock clock(r.seconds);
  cfg.ttt.validate();
  const MaskedFitConfig masked_cfg = cfg.effective_masked();
  masked_cfg.validate();
  require_input(cfg.max_test >= 0, "max test={} (expected >= 0; 0 = all)", cfg.max_test);
  require_input(cfg.top >= 1, "top={} (expected >= 1)", cfg.top);
  const torch::Device device = resolve_device(cfg.device);
  r.device = describe_device(device);

  // data (Psi)
  require_input(!cfg.data.empty(), "--data is required (an embedding folder: npy:DIR)");
  Dataset data = load_dataset(cfg.data);
  if (cfg.normalize) normalize_rows_(data);
  require_input(!data.is_images,
                "--data {}: table1 needs feature vectors, not images (write them with "
                "`tttlab run --data {} --export-embeddings DIR`)",
                cfg.data, cfg.data);
  require_input(cfg.ttt.k <= data.train.size(), "k={} is larger than the training set (N={})", cfg.ttt.k,
                data.train.size());
  r.dataset_name = data.name;
  r.num_classes = data.num_classes;
  r.input_dim = data.train.x.size(1);
  clock.lap("load_data");

  // SAE
  TopKSae sae;
  if (!cfg.sae_dir.empty()) {
    sae = load_sae(cfg.sae_dir);
    const std::optional<bool> trained_normalized = sae_input_normalized(cfg.sae_dir);
    require_input(!trained_normalized || *trained_normalized == cfg.normalize,
                  "{}: the SAE was trained on {} features, this run uses {} ones (--no-normalize switches)",
                  cfg.sae_dir.string(), trained_normalized && *trained_normalized ? "unit-normalised" : "raw",
                  cfg.normalize ? "unit-normalised" : "raw");
    require_input(sae.input_dim() == r.input_dim, "{}: the SAE expects width {}, the data has {}", cfg.sae_dir.string(),
                  sae.input_dim(), r.input_dim);
    r.sae_source = cfg.sae_dir.string();
    clock.lap("load_sae");
  } else {
    SaeTrainOptions opts;
    opts.out_dir = out_dir / "sae";
    opts.resume = true;  // a rerun continues (or reuses) the SAE of an earlier run with the same settings
    opts.device = device;
    opts.extra = {{"input_normalized", cfg.normalize}};
    const SaeTrainResult trained = train_sae(data.train.x, cfg.sae, opts);
    sae = trained.sae;
    r.warnings = trained.warnings;
    r.sae_source = (out_dir / "sae").string();
    clock.lap("train_sae");
  }
  r.latent_dim = sae.latent_dim();
  r.sparsity = sae.k;
  const DatasetEncoding enc = encode_dataset(sae, data, device);
  const Dataset psi_hat = reconstruction_dataset(data, enc);
  // Phi-hat stays sparse (k of d1 = 8 d2 units per row; dense it would be 21 GB for ImageNet):
  // neighbours by the sparse search, the global head on minibatches made dense, and every
  // per-test-point step on chunks that make dense only the rows they touch (sae/concept_chunks.hpp).
  const SparseRows phi_train{enc.train.codes.indices, enc.train.codes.values, sae.latent_dim()};
  for (const auto& [split, psi, rec] :
       {std::tuple{"train", &data.train, &psi_hat.train}, std::tuple{"test", &data.test, &psi_hat.test}}) {
    const ReconstructionQuality q = reconstruction_quality(psi->x, rec->x);
    r.sae_quality[std::string(split) + "_mse"] = q.mse;
    r.sae_quality[std::string(split) + "_fve"] = q.fve;
  }
  clock.lap("encode");

  // the test points
  const int64_t m_all = data.test.size();
  if (cfg.max_test > 0 && cfg.max_test < m_all) {
    auto gen = at::detail::createCPUGenerator(cfg.seed);
    r.test_rows = std::get<0>(torch::randperm(m_all, gen, torch::kLong).slice(0, 0, cfg.max_test).sort());
  } else {
    r.test_rows = torch::arange(m_all, torch::kLong);
  }
  auto test_of = [&](const Dataset& d) {
    return Split{d.test.x.index_select(0, r.test_rows), d.test.y.index_select(0, r.test_rows)};
  };
  const Split test_psi = test_of(data), test_psi_hat = test_of(psi_hat);
  const SparseRows phi_test =
      SparseRows{enc.test.codes.indices, enc.test.codes.values, sae.latent_dim()}.select(r.test_rows);
  r.test_labels = test_psi.y;
  r.num_train = data.train.size();
  r.num_test = r.test_rows.size(0);

  // global heads, neighbours and TTT in each space
  TrainConfig head_cfg = cfg.head_train;
  head_cfg.seed = cfg.seed;
  head_cfg.device = device;
  LocalFitConfig ttt_cfg = cfg.ttt;
  ttt_cfg.device = device;
  const int64_t k = cfg.ttt.k;
  std::map<std::string, torch::Tensor> neighbors;
  std::map<std::string, LinearHead> heads;
  struct Space {
    std::string name;
    const Split* train;
    const Split* test;
  };
  const int64_t chunk_bytes = std::max<int64_t>(int64_t{256} << 20, ttt_cfg.effective_memory_budget() / 4);
  auto add_global = [&](const std::string& name, const torch::Tensor& logits, const torch::Tensor& y) {
    r.methods.push_back({"global_" + name, logits.argmax(1), per_point_cross_entropy(logits, y)});
  };
  std::vector<Space> spaces;
  if (cfg.original_space) spaces.push_back({"psi", &data.train, &test_psi});
  spaces.push_back({"psi_hat", &psi_hat.train, &test_psi_hat});
  for (const Space& s : spaces) {
    heads[s.name] = train_linear_head(*s.train, data.num_classes, head_cfg);
    clock.lap("head_" + s.name);
    neighbors[s.name] = knn_search(s.train->x, s.test->x, k, cfg.index, device).indices;
    clock.lap("neighbours_" + s.name);
    {
      torch::NoGradGuard no_grad;
      add_global(s.name, heads[s.name].logits(s.test->x), s.test->y);
    }
    const LocalFitResult fit =
        local_fit_batched(heads[s.name], {s.train->x, s.train->y, s.test->x, s.test->y, neighbors[s.name]}, ttt_cfg);
    r.methods.push_back({"ttt_" + s.name, fit.pred, fit.ce});
    if (s.name == "psi_hat") r.logits["ttt_psi_hat"] = fit.logits;
    clock.lap("ttt_" + s.name);
  }
  {  // Phi-hat
    const SparseRows phi_train_on_device = phi_train.to(device);
    const auto phi_rows = [&](const torch::Tensor& rows) { return dense_rows(phi_train_on_device, rows); };
    heads["phi_hat"] = train_linear_head(phi_rows, phi_train.dim, data.train.y, data.num_classes, head_cfg);
    clock.lap("head_phi_hat");
    neighbors["phi_hat"] = knn_search_sparse(phi_train, phi_test, k, device).indices;
    clock.lap("neighbours_phi_hat");
    {
      torch::NoGradGuard no_grad;
      std::vector<torch::Tensor> logits;
      for (int64_t b = 0; b < phi_test.size(); b += 4096) {
        logits.push_back(heads["phi_hat"].logits(dense_rows(phi_test, b, std::min(phi_test.size(), b + 4096))));
      }
      add_global("phi_hat", logits.empty() ? torch::empty({0, data.num_classes}) : torch::cat(logits), test_psi.y);
    }
    const LocalFitResult fit = local_fit_sparse(heads["phi_hat"], phi_train, data.train.y, phi_test, test_psi.y,
                                                neighbors["phi_hat"], ttt_cfg, chunk_bytes);
    r.methods.push_back({"ttt_phi_hat", fit.pred, fit.ce});
    clock.lap("ttt_phi_hat");
  }
  if (!cfg.original_space) {  // O1 still needs neighbourhoods chosen in Psi
    neighbors["psi"] = knn_search(data.train.x, test_psi.x, k, cfg.index, device).indices;
  }

  // masked TTT in Phi-hat (O2) and the non-adaptive mask
  MaskedFitConfig mc = masked_cfg;
  mc.fit.device = device;
  const MaskedFitResult masked = masked_fit_sparse(heads["phi_hat"], phi_train, data.train.y, phi_test, test_psi.y,
                                                   neighbors["phi_hat"], mc, chunk_bytes);
  r.methods.push_back({"masked_ttt_phi_hat", masked.fit.pred, masked.fit.ce});
  r.logits["masked_ttt_phi_hat"] = masked.fit.logits;
  r.mask_stats = mask_statistics_sparse(masked.masks, phi_train, phi_test, neighbors["phi_hat"], k, chunk_bytes);
  r.masks = masked.masks;
  clock.lap("masked_ttt");
  const auto own = test_point_masks(phi_test);
  const MaskedFitResult fixed = masked_fit_sparse(heads["phi_hat"], phi_train, data.train.y, phi_test, test_psi.y,
                                                  neighbors["phi_hat"], mc, chunk_bytes, own);
  r.methods.push_back({"nonadaptive_ttt_phi_hat", fixed.fit.pred, fixed.fit.ce});
  r.nonadaptive_mask_size = own.sum(1);
  r.test_active = own;
  clock.lap("nonadaptive_ttt");

  // O1: mean cosine in Phi-hat to neighbours chosen in each space
  for (const char* space : {"psi", "psi_hat", "phi_hat"}) {
    r.neighbor_cosine[space] = mean_neighbor_cosine_sparse(phi_train, phi_test, neighbors[space], k, chunk_bytes);
  }
  // O3: Psi-hat TTT vs masked Phi-hat TTT
  r.o3 = probability_agreement(r.logits["ttt_psi_hat"], r.logits["masked_ttt_phi_hat"], cfg.top, cfg.bootstrap);
  clock.lap("analysis");
  return r;
}

}  // namespace tttlab
