#pragma once
// FlexibleLeNet: the paper's scalable LeNet (Appendix E.4): two 5x5 convolutions, each followed by
// ReLU and 2x2 max-pooling, a fully connected feature layer with ReLU, and a linear classification
// head. One knob, size_scale, scales every width:
//   conv1 channels  c1 = max(1, round(6 * s))     1x28x28 -> c1x24x24 -> pool -> c1x12x12
//   conv2 channels  c2 = max(1, round(16 * s))    -> c2x8x8 -> pool -> c2x4x4 (flatten: 16*c2)
//   feature width   d  = max(1, round(100 * s))   the layer TTT adapts the head on ("features")
//   head            d -> num_classes
// size_scale 0.5 ("TinyLeNet") gives d = 50, the feature width the paper reports for it (E.2).
#include <cstdint>
#include <filesystem>
#include <string>

#include <torch/torch.h>

namespace tttlab {

struct LeNetShape {
  double size_scale = 0.5;
  int64_t conv1_channels = 0, conv2_channels = 0, feature_dim = 0, num_classes = 10;
  int64_t image_size = 28;

  static LeNetShape from_scale(double size_scale, int64_t num_classes = 10, int64_t image_size = 28);
  int64_t flat_dim() const;         // conv output, flattened
  int64_t parameter_count() const;  // all weights and biases, head included
};

class FlexibleLeNetImpl : public torch::nn::Module {
 public:
  explicit FlexibleLeNetImpl(const LeNetShape& shape);

  torch::Tensor features(const torch::Tensor& images);  // [N,1,H,W] -> [N, d]
  torch::Tensor forward(const torch::Tensor& images);   // logits [N, C]

  const LeNetShape& shape() const { return shape_; }
  torch::nn::Linear& head() { return head_; }

 private:
  LeNetShape shape_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear fc1_{nullptr}, head_{nullptr};
};
TORCH_MODULE(FlexibleLeNet);

// safetensors with tensors conv1.weight, conv1.bias, conv2.weight, conv2.bias, fc1.weight,
// fc1.bias, head.weight, head.bias (torch.nn state-dict names) and metadata size_scale,
// num_classes, image_size, architecture = "FlexibleLeNet".
void save_lenet(const std::filesystem::path& path, const FlexibleLeNet& model);
FlexibleLeNet load_lenet(const std::filesystem::path& path);

}  // namespace tttlab
