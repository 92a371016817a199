#pragma once
// A labelled data set as every later step sees it: either images (for a feature extractor to embed)
// or feature vectors (an embedding folder, or features a model produced).
#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

namespace tttlab {

struct Split {
  torch::Tensor x;  // float32; images [N, 1, H, W] in [0, 1], or features [N, d]
  torch::Tensor y;  // int64 [N], values in 0..num_classes-1
  int64_t size() const { return y.defined() ? y.size(0) : 0; }
};

struct Dataset {
  std::string name;  // e.g. "fashion-mnist", "npy:/path/to/dir"
  Split train, test;
  std::optional<Split> val;
  int64_t num_classes = 0;
  bool is_images = false;  // true: x holds images; false: x holds feature vectors
};

}  // namespace tttlab
