#include "tttlab/models/flexible_lenet.hpp"

#include <cmath>
#include <string>

#include "tttlab/core/error.hpp"
#include "tttlab/io/safetensors.hpp"

namespace tttlab {

namespace {
int64_t scaled(double base, double s) { return std::max<int64_t>(1, static_cast<int64_t>(std::llround(base * s))); }
// Spatial size after a 5x5 valid convolution and a 2x2 max-pool.
int64_t conv_pool(int64_t size) { return (size - 4) / 2; }
}  // namespace

LeNetShape LeNetShape::from_scale(double size_scale, int64_t num_classes, int64_t image_size) {
  require_input(std::isfinite(size_scale) && size_scale > 0 && size_scale <= 64,
                "size_scale={} is out of range (expected a number in (0, 64])", size_scale);
  require_input(num_classes >= 2, "num_classes={} (expected at least 2)", num_classes);
  require_input(conv_pool(conv_pool(image_size)) >= 1,
                "image size {} is too small for FlexibleLeNet (expected at least 16)", image_size);
  LeNetShape s;
  s.size_scale = size_scale;
  s.conv1_channels = scaled(6, size_scale);
  s.conv2_channels = scaled(16, size_scale);
  s.feature_dim = scaled(100, size_scale);
  s.num_classes = num_classes;
  s.image_size = image_size;
  return s;
}

int64_t LeNetShape::flat_dim() const {
  const int64_t side = conv_pool(conv_pool(image_size));
  return conv2_channels * side * side;
}

int64_t LeNetShape::parameter_count() const {
  const int64_t conv1 = conv1_channels * 25 + conv1_channels;
  const int64_t conv2 = conv2_channels * conv1_channels * 25 + conv2_channels;
  const int64_t fc1 = flat_dim() * feature_dim + feature_dim;
  const int64_t head = feature_dim * num_classes + num_classes;
  return conv1 + conv2 + fc1 + head;
}

FlexibleLeNetImpl::FlexibleLeNetImpl(const LeNetShape& shape) : shape_(shape) {
  conv1_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, shape.conv1_channels, 5)));
  conv2_ = register_module("conv2",
                           torch::nn::Conv2d(torch::nn::Conv2dOptions(shape.conv1_channels, shape.conv2_channels, 5)));
  fc1_ = register_module("fc1", torch::nn::Linear(shape.flat_dim(), shape.feature_dim));
  head_ = register_module("head", torch::nn::Linear(shape.feature_dim, shape.num_classes));
}

torch::Tensor FlexibleLeNetImpl::features(const torch::Tensor& images) {
  auto h = torch::max_pool2d(torch::relu(conv1_->forward(images)), 2);
  h = torch::max_pool2d(torch::relu(conv2_->forward(h)), 2);
  return torch::relu(fc1_->forward(h.flatten(1)));
}

torch::Tensor FlexibleLeNetImpl::forward(const torch::Tensor& images) { return head_->forward(features(images)); }

void save_lenet(const std::filesystem::path& path, const FlexibleLeNet& model) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : model->named_parameters()) {
    tensors[item.key()] = item.value().detach().to(torch::kCPU).contiguous();
  }
  const auto& s = model->shape();
  write_safetensors(path, tensors,
                    {{"architecture", "FlexibleLeNet"},
                     {"size_scale", fmt::format("{}", s.size_scale)},
                     {"num_classes", std::to_string(s.num_classes)},
                     {"image_size", std::to_string(s.image_size)}});
}

FlexibleLeNet load_lenet(const std::filesystem::path& path) {
  const SafetensorsFile file = read_safetensors(path);
  auto meta = [&](const std::string& key) {
    const auto it = file.metadata.find(key);
    require_input(it != file.metadata.end(), "{}: metadata has no '{}' (not a tttlab FlexibleLeNet file)",
                  path.string(), key);
    return it->second;
  };
  require_input(meta("architecture") == "FlexibleLeNet", "{}: architecture is '{}', expected 'FlexibleLeNet'",
                path.string(), meta("architecture"));
  LeNetShape shape;
  try {
    shape = LeNetShape::from_scale(std::stod(meta("size_scale")), std::stoll(meta("num_classes")),
                                   std::stoll(meta("image_size")));
  } catch (const std::logic_error&) {  // stod/stoll: not a number
    throw_input_error("{}: metadata size_scale/num_classes/image_size are not numbers", path.string());
  }
  FlexibleLeNet model(shape);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    const auto expected = item.value().sizes().vec();
    item.value().copy_(require_tensor(file, path, item.key(), expected).to(torch::kFloat32));
  }
  return model;
}

}  // namespace tttlab
