#pragma once
// Global training: Adam on the mean cross-entropy in shuffled minibatches (the paper's protocol for
// every global model: E.3, E.4 Table 3, E.6). Seeded: the same seed gives the same model.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tttlab/data/dataset.hpp"
#include "tttlab/models/flexible_lenet.hpp"
#include "tttlab/models/linear_head.hpp"

namespace tttlab {

struct TrainConfig {
  int64_t epochs = 10;
  int64_t batch_size = 256;
  double lr = 1e-3;
  double weight_decay = 0.0;           // torch.optim.Adam's L2 term
  uint64_t seed = 0;                   // minibatch order
  torch::Device device = torch::kCPU;  // where the minibatch steps run; the model comes back on the CPU
};

struct TrainLog {
  std::vector<double> epoch_loss;  // mean training cross-entropy of each epoch
  double seconds = 0.0;
};

using ForwardFn = std::function<torch::Tensor(const torch::Tensor&)>;

// Trains the parameters of `module` (forward(x) -> logits) on `data` in place, on cfg.device
// (the data is moved there once); the module is back on the CPU when this returns.
TrainLog train_classifier(torch::nn::Module& module, const ForwardFn& forward, const Split& data,
                          const TrainConfig& cfg, const std::string& label);

// The same training with inputs that are not one dense tensor: rows_of(int64 row indices on
// cfg.device) returns a minibatch's inputs on cfg.device (sparse concept codes made dense a minibatch
// at a time). The same seed and rows give the same model as the Split overload.
using RowsFn = std::function<torch::Tensor(const torch::Tensor& rows)>;
TrainLog train_classifier(torch::nn::Module& module, const ForwardFn& forward, const RowsFn& rows_of,
                          const torch::Tensor& labels, const TrainConfig& cfg, const std::string& label);

// A linear head (torch.nn.Linear default init from the seed) trained on feature vectors, given as
// a Split or as rows_of (above) with their width and labels.
LinearHead train_linear_head(const Split& features, int64_t num_classes, const TrainConfig& cfg,
                             TrainLog* log = nullptr);
LinearHead train_linear_head(const RowsFn& rows_of, int64_t dim, const torch::Tensor& labels, int64_t num_classes,
                             const TrainConfig& cfg, TrainLog* log = nullptr);

// The feature layer of a trained network for every image, in batches, without gradients, computed
// on `device`; the features come back on the CPU (and the model stays on the CPU).
torch::Tensor extract_features(FlexibleLeNet& model, const torch::Tensor& images, const std::string& label,
                               int64_t batch_size = 1024, torch::Device device = torch::kCPU);

}  // namespace tttlab
