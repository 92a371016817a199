#pragma once
// A two-layer MLP classification head on frozen embeddings (paper E.6, Table 7):
//   x [N, d] -> fc1 (d -> H) -> ReLU -> dropout -> fc2 (H -> C) -> logits
// Its hidden layer (after the ReLU, no dropout) is the "scaled embedding" that TTT and majority vote
// work in, and fc2 is the linear head TTT starts from (Table 8).
#include <cstdint>

#include <torch/torch.h>

#include "tttlab/models/linear_head.hpp"

namespace tttlab {

class MlpHeadImpl : public torch::nn::Module {
 public:
  MlpHeadImpl(int64_t input_dim, int64_t hidden_dim, int64_t num_classes, double dropout);

  torch::Tensor hidden(const torch::Tensor& x);   // ReLU(fc1 x): [N, H]
  torch::Tensor forward(const torch::Tensor& x);  // logits [N, C]; dropout only in training mode

  LinearHead output_head() const;  // a copy of fc2 as a LinearHead (CPU)
  int64_t hidden_dim() const { return hidden_dim_; }

 private:
  int64_t hidden_dim_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(MlpHead);

// The hidden features of every row, in batches, without gradients, in evaluation mode, computed on
// `device`; they come back on the CPU.
torch::Tensor mlp_hidden_features(MlpHead& model, const torch::Tensor& x, int64_t batch_size = 4096,
                                  torch::Device device = torch::kCPU);

}  // namespace tttlab
