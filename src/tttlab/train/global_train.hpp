#pragma once
// Global training: Adam on the mean cross-entropy in shuffled minibatches (the paper's protocol for
// every global model: E.3, E.4 Table 3, E.6). Seeded: the same seed gives the same model.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "tttlab/data/dataset.hpp"
#include "tttlab/models/flexible_lenet.hpp"
#include "tttlab/models/linear_head.hpp"

namespace tttlab {

// When training stops, and when it counts as converged. The monitored loss is the validation loss
// when a validation split is given, else the mean training loss of each epoch.
//   patience = 0: a fixed budget of `epochs` epochs (at least 10 to be judged). Converged when the
//                 best loss of the last tenth is within 1% (relative) of the best before it.
//   patience > 0: `epochs` is the maximum. Stops once the monitored loss has not improved by more
//                 than min_improvement (relative) for `patience` epochs, which counts as converged;
//                 with a validation split, the parameters of the best epoch are restored. Reaching
//                 the maximum first is "not converged".
struct TrainConfig {
  int64_t epochs = 10;
  int64_t batch_size = 256;
  double lr = 1e-3;
  double weight_decay = 0.0;           // torch.optim.Adam's L2 term
  uint64_t seed = 0;                   // minibatch order
  torch::Device device = torch::kCPU;  // where the minibatch steps run; the model comes back on the CPU
  int64_t patience = 0;                // 0: fixed budget; > 0: early stopping (above)
  double min_improvement = 1e-3;       // relative improvement that resets the patience

  std::string criterion() const;  // the rule above in words, e.g. "validation loss flat for 10 epochs (max 1000)"
};

// The fixed-budget rule's window and threshold (TrainConfig's comment).
inline constexpr double kBudgetConvergedDrop = 0.01;

struct TrainLog {
  std::vector<double> epoch_loss;  // mean training cross-entropy of each epoch
  std::vector<double> val_loss;    // validation cross-entropy after each epoch (when a split was given)
  double seconds = 0.0;
  int64_t epochs_run = 0;
  int64_t best_epoch = 0;  // 1-based epoch whose parameters were kept (the last one without a validation split)
  bool converged = false;
  std::string monitored;    // "validation loss" | "training loss"
  std::string criterion;    // TrainConfig::criterion()
  std::string convergence;  // why it counts as (not) converged, one phrase, e.g. "still falling: 0.70 -> 0.41 ..."

  double final_train_loss() const { return epoch_loss.empty() ? 0.0 : epoch_loss.back(); }
  std::optional<double> final_val_loss() const;  // the kept epoch's validation loss
};

// Whether a fixed-budget run of these monitored losses counts as converged, and the phrase that
// says why (TrainConfig's rule); exposed for tests and for trainers with their own loops.
std::pair<bool, std::string> budget_convergence(const std::vector<double>& monitored, const std::string& what);

// "warning: <label> did not converge (<log.convergence>); <advice>" or "" when it converged.
std::string convergence_warning(const TrainLog& log, const std::string& label, const std::string& advice);

using ForwardFn = std::function<torch::Tensor(const torch::Tensor&)>;

// Trains the parameters of `module` (forward(x) -> logits) on `data` in place, on cfg.device
// (the data is moved there once); the module is back on the CPU when this returns.
// With `validation` (inputs and labels, same form as `data`), its loss is computed after every epoch
// (the module in eval mode) and monitored for cfg's stopping rule.
TrainLog train_classifier(torch::nn::Module& module, const ForwardFn& forward, const Split& data,
                          const TrainConfig& cfg, const std::string& label, const Split* validation = nullptr);

// The same training with inputs that are not one dense tensor: rows_of(int64 row indices on
// cfg.device) returns a minibatch's inputs on cfg.device (sparse concept codes made dense a minibatch
// at a time). The same seed and rows give the same model as the Split overload.
using RowsFn = std::function<torch::Tensor(const torch::Tensor& rows)>;
TrainLog train_classifier(torch::nn::Module& module, const ForwardFn& forward, const RowsFn& rows_of,
                          const torch::Tensor& labels, const TrainConfig& cfg, const std::string& label,
                          const Split* validation = nullptr);

// A linear head (torch.nn.Linear default init from the seed) trained on feature vectors, given as
// a Split or as rows_of (above) with their width and labels.
LinearHead train_linear_head(const Split& features, int64_t num_classes, const TrainConfig& cfg,
                             TrainLog* log = nullptr, const Split* validation = nullptr);
LinearHead train_linear_head(const RowsFn& rows_of, int64_t dim, const torch::Tensor& labels, int64_t num_classes,
                             const TrainConfig& cfg, TrainLog* log = nullptr);

// The feature layer of a trained network for every image, in batches, without gradients, computed
// on `device`; the features come back on the CPU (and the model stays on the CPU).
torch::Tensor extract_features(FlexibleLeNet& model, const torch::Tensor& images, const std::string& label,
                               int64_t batch_size = 1024, torch::Device device = torch::kCPU);

}  // namespace tttlab
