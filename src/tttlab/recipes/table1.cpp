#include "tttlab/recipes/table1.hpp"

#include <chrono>

#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/neighbors/index.hpp"
#include "tttlab/sae/sae_dataset.hpp"
#include "tttlab/sae/sae_train.hpp"

namespace tttlab {

namespace fs = std::filesystem;

Table1Config::Table1Config() {
  ttt.k = 50;  // E.3: 80 full-batch Adam steps, lr 0.02, no weight decay, k = 50 (section 3.1)
  ttt.steps = 80;
  ttt.lr = 0.02;
  ttt.weight_decay = 0.0;
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
  return {{"ttt_psi_hat", "global_psi_hat"},         {"ttt_phi_hat", "global_phi_hat"},
          {"masked_ttt_phi_hat", "global_phi_hat"},  {"masked_ttt_phi_hat", "ttt_psi_hat"},
          {"nonadaptive_ttt_phi_hat", "masked_ttt_phi_hat"}, {"ttt_psi", "global_psi"}};
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
  require_input(!data.is_images, "--data {}: table1 needs feature vectors, not images (write them with "
                "`tttlab run --data {} --export-embeddings DIR`)", cfg.data, cfg.data);
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
    require_input(sae.input_dim() == r.input_dim, "{}: the SAE expects width {}, the data has {}",
                  cfg.sae_dir.string(), sae.input_dim(), r.input_dim);
    r.sae_source = cfg.sae_dir.string();
    clock.lap("load_sae");
  } else {
    SaeTrainOptions opts;
    opts.out_dir = out_dir / "sae";
    opts.resume = true;  // a rerun continues (or reuses) the SAE of an earlier run with the same settings
    opts.device = device;
    opts.extra = {{"input_normalized", cfg.normalize}};
    sae = train_sae(data.train.x, cfg.sae, opts).sae;
    r.sae_source = (out_dir / "sae").string();
    clock.lap("train_sae");
  }
  r.latent_dim = sae.latent_dim();
  r.sparsity = sae.k;
  const DatasetEncoding enc = encode_dataset(sae, data, device);
  const Dataset psi_hat = reconstruction_dataset(data, enc);
  const Dataset phi_hat = concept_dataset(data, enc, sae.latent_dim());
  for (const auto& [split, psi, rec] : {std::tuple{"train", &data.train, &psi_hat.train},
                                        std::tuple{"test", &data.test, &psi_hat.test}}) {
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
  auto test_of = [&](const Dataset& d) { return Split{d.test.x.index_select(0, r.test_rows), d.test.y.index_select(0, r.test_rows)}; };
  const Split test_psi = test_of(data), test_psi_hat = test_of(psi_hat), test_phi = test_of(phi_hat);
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
  std::vector<Space> spaces;
  if (cfg.original_space) spaces.push_back({"psi", &data.train, &test_psi});
  spaces.push_back({"psi_hat", &psi_hat.train, &test_psi_hat});
  spaces.push_back({"phi_hat", &phi_hat.train, &test_phi});
  for (const Space& s : spaces) {
    heads[s.name] = train_linear_head(*s.train, data.num_classes, head_cfg);
    clock.lap("head_" + s.name);
    neighbors[s.name] = knn_search(s.train->x, s.test->x, k, cfg.index, device).indices;
    clock.lap("neighbours_" + s.name);
    {
      torch::NoGradGuard no_grad;
      const auto logits = heads[s.name].logits(s.test->x);
      r.methods.push_back({"global_" + s.name, logits.argmax(1), per_point_cross_entropy(logits, s.test->y)});
    }
    const LocalFitResult fit = local_fit_batched(heads[s.name], {s.train->x, s.train->y, s.test->x, s.test->y,
                                                                 neighbors[s.name]}, ttt_cfg);
    r.methods.push_back({"ttt_" + s.name, fit.pred, fit.ce});
    if (s.name == "psi_hat") r.logits["ttt_psi_hat"] = fit.logits;
    clock.lap("ttt_" + s.name);
  }
  if (!cfg.original_space) {  // O1 still needs neighbourhoods chosen in Psi
    neighbors["psi"] = knn_search(data.train.x, test_psi.x, k, cfg.index, device).indices;
  }

  // masked TTT in Phi-hat (O2) and the non-adaptive mask
  MaskedFitConfig mc = masked_cfg;
  mc.fit.device = device;
  const LocalFitData phi_data{phi_hat.train.x, phi_hat.train.y, test_phi.x, test_phi.y, neighbors["phi_hat"]};
  const MaskedFitResult masked = masked_fit_batched(heads["phi_hat"], phi_data, mc);
  r.methods.push_back({"masked_ttt_phi_hat", masked.fit.pred, masked.fit.ce});
  r.logits["masked_ttt_phi_hat"] = masked.fit.logits;
  r.mask_stats = mask_statistics(masked.masks, phi_data, k);
  r.masks = masked.masks;
  clock.lap("masked_ttt");
  const auto own = test_point_masks(test_phi.x);
  const MaskedFitResult fixed = masked_fit_batched(heads["phi_hat"], phi_data, mc, own);
  r.methods.push_back({"nonadaptive_ttt_phi_hat", fixed.fit.pred, fixed.fit.ce});
  r.nonadaptive_mask_size = own.sum(1);
  r.test_active = own;
  clock.lap("nonadaptive_ttt");

  // O1: mean cosine in Phi-hat to neighbours chosen in each space
  for (const char* space : {"psi", "psi_hat", "phi_hat"}) {
    r.neighbor_cosine[space] = mean_neighbor_cosine(phi_hat.train.x, test_phi.x, neighbors[space], k);
  }
  // O3: Psi-hat TTT vs masked Phi-hat TTT
  r.o3 = probability_agreement(r.logits["ttt_psi_hat"], r.logits["masked_ttt_phi_hat"], cfg.top, cfg.bootstrap);
  clock.lap("analysis");
  return r;
}

}  // namespace tttlab
