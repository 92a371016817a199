#pragma once
// The paper's section 3 on any embedding folder (`tttlab reproduce table1`):
//   SAE (trained here with the E.3 recipe, or loaded) -> Psi-hat (reconstructions), Phi-hat
//   (concepts) -> global linear heads and TTT in Psi-hat and in Phi-hat (Table 1), masked TTT in
//   Phi-hat (eq. 3) and the non-adaptive mask (O2), the mean concept-space cosine of neighbourhoods
//   chosen in Psi, Psi-hat and Phi-hat (O1, Figure 2), and the agreement of Psi-hat TTT with masked
//   Phi-hat TTT (O3, Figure 3). Defaults: the ImageNet setting of E.3 and section 3.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tttlab/eval/bootstrap.hpp"
#include "tttlab/eval/summary.hpp"
#include "tttlab/sae/concept_analysis.hpp"
#include "tttlab/sae/masked_ttt.hpp"
#include "tttlab/sae/sae_config.hpp"
#include "tttlab/train/global_train.hpp"
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab {

struct Table1Config {
  std::string data;                           // embedding folder: npy:DIR or DIR
  std::filesystem::path sae_dir;              // a trained SAE; empty: train one into <out>/sae
  SaeConfig sae;                              // the SAE recipe when training (E.3 defaults)
  std::string preset = "paper-imagenet-sae";  // the preset of head_train and ttt (presets.hpp)
  TrainConfig head_train;                     // global heads (E.3)
  LocalFitConfig ttt;                         // TTT in Psi, Psi-hat and Phi-hat (E.3: k 50, 80 steps, lr 0.02)
  MaskedFitConfig masked;                     // penalty and temperature of eq. 3 (its fit settings: below)
  int64_t masked_steps = 0;                   // 0 = TTT's steps
  double masked_lr = 0;                       // 0 = TTT's lr
  bool original_space = true;                 // also the global head and TTT in Psi itself
  bool normalize = true;                      // Psi := x / |x| for every row (the paper's CLIP embeddings are
                                              // unit vectors; a no-op for data that already is)
  int64_t max_test = 0;                       // > 0: a seeded random subset of this many test points
  int64_t top = 10;                           // ranks compared in O3
  std::string index = "auto";                 // neighbour search
  BootstrapConfig bootstrap;                  // 90%, 1000 resamples
  uint64_t seed = 0;
  std::string device = "auto";

  Table1Config();
  MaskedFitConfig effective_masked() const;  // masked with the fit settings filled in
};

struct Table1Result {
  std::string dataset_name, device, sae_source;
  int64_t num_train = 0, num_test = 0, input_dim = 0, latent_dim = 0, sparsity = 0, num_classes = 0;
  std::map<std::string, double> sae_quality;             // train/test mse and fve of the reconstructions
  torch::Tensor test_rows;                               // int64 [M]: the test points used (rows of the test split)
  torch::Tensor test_labels;                             // int64 [M]
  std::vector<MethodPredictions> methods;                // global_* and ttt_* per space, masked, non-adaptive
  std::map<std::string, torch::Tensor> logits;           // "ttt_psi_hat", "masked_ttt_phi_hat": float [M, C]
  std::map<std::string, torch::Tensor> neighbor_cosine;  // O1: space -> double [M]
  MaskStatistics mask_stats;                             // O2, adaptive masks
  torch::Tensor masks;                                   // bool [M, d1], the adaptive masks
  torch::Tensor test_active;                             // bool [M, d1], each test point's active concepts
  torch::Tensor nonadaptive_mask_size;                   // int64 [M]
  ProbabilityAgreement o3;
  std::vector<std::pair<std::string, double>> seconds;  // stage -> seconds
  std::vector<std::string> warnings;                     // e.g. an SAE trained on a schedule longer than its run
};

// Runs everything; writes only the SAE it trains (to out_dir/sae, resumable).
Table1Result run_table1(const Table1Config& cfg, const std::filesystem::path& out_dir);

// The paired comparisons reported with Table 1: "<a> - <b>".
std::vector<std::pair<std::string, std::string>> table1_comparisons();

}  // namespace tttlab
