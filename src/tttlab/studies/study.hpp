#pragma once
// The main job, composed from the library along the data flow:
//   data -> features -> neighbours -> local fit (TTT) -> predictions -> metrics -> report
// One call runs the three methods of `tttlab run` on one data set: the global head, majority vote over
// the nearest neighbours, and TTT of the head on each test point's neighbours.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tttlab/data/dataset.hpp"
#include "tttlab/eval/bootstrap.hpp"
#include "tttlab/eval/summary.hpp"
#include "tttlab/models/flexible_lenet.hpp"
#include "tttlab/models/linear_head.hpp"
#include "tttlab/selection/adaptive.hpp"
#include "tttlab/selection/grid_search.hpp"
#include "tttlab/train/global_train.hpp"
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab {

// Defaults: the preset "default" (presets.hpp), which `tttlab run` states in its help; a
// default-constructed StudyConfig holds the same values (a test checks that they agree).
struct StudyConfig {
  std::string data = "fashion-mnist";             // fashion-mnist | mnist | npy:DIR | DIR
  std::string preset = "default";                 // the preset the settings started from (recorded only)
  std::filesystem::path model_path;               // images: load this FlexibleLeNet instead of training one
  std::filesystem::path head_path;                // features: load this head instead of training one
  LinearHead initial_head;                        // features: start from this head (in memory, e.g. an MLP's
                                                  // last layer) instead of training one; undefined = train
  double size_scale = 0.5;                        // FlexibleLeNet width (0.5 = TinyLeNet, 50 features)
  TrainConfig model_train{100, 400, 2e-3};        // FlexibleLeNet on images (Table 3, TinyLeNet row)
  TrainConfig head_train = default_head_train();  // linear head on an embedding folder
  LocalFitConfig ttt = default_ttt();             // Table 4, TinyLeNet row: k 50, 200 steps, lr 1e-3
  int64_t majority_k = 6;                         // Table 5, TinyLeNet row; 0: the same k as TTT
  // --tune: choose TTT's k, steps, lr and majority vote's k on validation data (val_* of an embedding
  // folder, else a stratified hold-out of train; the model, head and index then use the rest).
  bool tune = false;
  SelectionGrid grid;
  // --adaptive: also "ttt_adaptive", where every test point picks its own (k, steps) from the grid by
  // leave-one-out on its neighbourhood (selection/adaptive.hpp), at TTT's lr (the tuned one with --tune).
  bool adaptive = false;
  int64_t adaptive_holdouts = 3;
  // With --tune: also "ttt_fixed", TTT at the settings before tuning (the preset's or the flags'), on
  // the same model, index and test points, so that tuned and fixed compare paired.
  bool compare_fixed = false;
  int64_t effective_majority_k() const { return majority_k > 0 ? majority_k : ttt.k; }
  std::string index = "auto";  // auto | faiss | torch
  BootstrapConfig bootstrap;   // 1000 resamples, 90%
  uint64_t seed = 0;
  std::string device = "auto";  // auto | cpu | cuda[:N]: training, features, k-NN and TTT

  // E.3's head optimiser (Adam, lr 1e-3, batch 512, wd 5e-9) run until the monitored loss stops
  // improving: 10 epochs of patience, at most 1000.
  static TrainConfig default_head_train();
  static LocalFitConfig default_ttt();
};

struct StudyTiming {
  std::vector<std::pair<std::string, double>> seconds;  // stage -> seconds, in run order
  double total() const;
};

struct StudyResult {
  std::string dataset_name;
  std::string device;          // where it ran, e.g. "cuda:0 (NVIDIA H100 80GB HBM3)"
  std::string local_fit_path;  // the TTT computation that ran, to_string(LocalFitPath), e.g. "batched-cpu"
  int64_t num_train = 0, num_test = 0, dim = 0, num_classes = 0;
  // Classes in 0..num_classes-1 with no training example (labels {0, 10, ..., 90} make 91 classes,
  // 81 of them empty): usually a labelling mistake, so it is reported rather than silently absorbed.
  std::vector<int64_t> classes_without_training_examples;
  torch::Tensor test_labels;  // int64 [M]; undefined when the test set has no labels (no metrics then)
  torch::Tensor neighbors;                            // int64 [M, k_max], nearest first
  LinearHead head;                                    // the global head TTT starts from
  FlexibleLeNet model{nullptr};                       // set when the features came from a FlexibleLeNet
  Split train_features, test_features, val_features;  // val: empty without validation data
  std::vector<MethodPredictions> methods;             // global, majority, ttt
  StudyTiming timing;
  std::map<std::string, std::string> notes;  // e.g. model parameter count
  // Global training (a network or a head trained here): its log with the convergence verdict.
  std::optional<TrainLog> model_log, head_log;
  std::string validation;                    // where validation data came from ("" = none)
  int64_t num_val = 0;                       // its size
  std::optional<SelectionResult> selection;  // --tune: every configuration's validation score
  StudyConfig chosen;                        // the settings that ran on the test set (after --tune)
  std::vector<std::string> warnings;         // also printed on stderr when they arise
  // Compute: TTT's arithmetic per test point (6 k C d per step) for "ttt", "ttt_fixed" and, with
  // --adaptive, "ttt_adaptive" (its leave-one-out passes included; each point's chosen k and steps).
  double ttt_flops_per_point = 0, fixed_flops_per_point = 0, adaptive_flops_per_point = 0;
  torch::Tensor adaptive_k, adaptive_steps;  // int64 [M]
  // The adapted TTT heads, one per test point (only when cfg.ttt.keep_heads): [M, C, d] and [M, C].
  torch::Tensor ttt_weights, ttt_biases;
};

// Runs everything in memory and writes nothing (report/ writes the results), so that a failure
// leaves no partial output behind. Right after loading, a one-line warning on stderr names the
// classes without training examples, if any. An embedding folder or .npz without test labels is
// accepted: every method still predicts (and has probabilities), nothing has a cross-entropy.
StudyResult run_study(const StudyConfig& cfg);

// The classes in 0..num_classes-1 (the larger of the data's and `num_classes`) that no training label
// uses, in increasing order.
std::vector<int64_t> classes_without_training_examples(const Dataset& data, int64_t num_classes = 0);

// The warning for those classes (one line, no newline), e.g. "warning: 81 of 91 classes have no
// training examples (1, 2, 3, ...); ..."; empty when there are none.
std::string empty_classes_warning(const std::vector<int64_t>& empty_classes, int64_t num_classes);

// The same on a data set already in memory (cfg.data is then only its label): the scaling studies
// load a data set once and run many studies on it or on subsets of it.
StudyResult run_study(const StudyConfig& cfg, const Dataset& data);

}  // namespace tttlab
