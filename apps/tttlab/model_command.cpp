// tttlab model: the shape of a FlexibleLeNet at a size_scale (feature width, parameter count).
#include <fmt/format.h>

#include "commands.hpp"
#include "tttlab/models/flexible_lenet.hpp"

namespace tttlab::cli {

void add_model_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("model",
                                 "Show FlexibleLeNet's layer widths, feature dimension and "
                                 "parameter count for a size_scale");
  auto scale = std::make_shared<double>(0.5);
  auto classes = std::make_shared<int64_t>(10);
  cmd->add_option("--size-scale", *scale, "Width multiplier (0.5 = TinyLeNet: 50 features)")->capture_default_str();
  cmd->add_option("--classes", *classes, "Number of classes of the head")->capture_default_str();
  cmd->callback([scale, classes] {
    const auto s = LeNetShape::from_scale(*scale, *classes);
    fmt::print("FlexibleLeNet size_scale={}\n", s.size_scale);
    fmt::print("  conv1  1 -> {} channels, 5x5, ReLU, 2x2 max-pool\n", s.conv1_channels);
    fmt::print("  conv2  {} -> {} channels, 5x5, ReLU, 2x2 max-pool  (flatten: {})\n", s.conv1_channels,
               s.conv2_channels, s.flat_dim());
    fmt::print("  fc1    {} -> {} features, ReLU\n", s.flat_dim(), s.feature_dim);
    fmt::print("  head   {} -> {} classes\n", s.feature_dim, s.num_classes);
    fmt::print("feature dimension: {}\nparameters: {}\n", s.feature_dim, s.parameter_count());
  });
}

}  // namespace tttlab::cli
