#include "tttlab/models/model_sizes.hpp"

#include <cstdlib>

#include "tttlab/core/error.hpp"
#include "tttlab/models/flexible_lenet.hpp"

namespace tttlab {

const std::vector<PaperModelSize>& paper_model_sizes() {
  // parameters, Table 3 (lr, batch, epochs), Table 4 (lr, epochs = steps, k), Table 5 (k)
  static const std::vector<PaperModelSize> sizes = {
      {280, 6e-3, 500, 50, 0.05, 50, 200, 8},    {600, 2e-3, 200, 50, 5e-3, 200, 50, 5},
      {1268, 1e-3, 400, 100, 0.01, 200, 10, 8},  {1976, 8e-4, 600, 100, 0.01, 200, 200, 5},
      {2985, 6e-4, 300, 100, 5e-3, 200, 200, 3}, {4430, 6e-4, 300, 100, 5e-3, 200, 200, 4},
      {6386, 2e-3, 400, 100, 1e-3, 200, 50, 6},  {11770, 2e-3, 300, 100, 5e-3, 200, 100, 4},
      {24294, 2e-3, 300, 100, 1e-3, 200, 50, 4}, {40818, 6e-4, 100, 50, 1e-3, 200, 200, 4},
  };
  return sizes;
}

const PaperModelSize& paper_model_size(int64_t parameters) {
  for (const auto& s : paper_model_sizes()) {
    if (s.parameters == parameters) return s;
  }
  throw_input_error(
      "--sizes: {} is not one of Table 3's parameter counts (280, 600, 1268, 1976, 2985, 4430, "
      "6386, 11770, 24294, 40818)",
      parameters);
}

double size_scale_for_parameters(int64_t parameters, int64_t num_classes, int64_t image_size) {
  require_input(parameters >= 1, "parameter count {} (expected >= 1)", parameters);
  double best = 0.001;
  int64_t best_gap = -1;
  for (int i = 1; i <= 4000; ++i) {
    const double s = i / 1000.0;
    const int64_t gap = std::llabs(LeNetShape::from_scale(s, num_classes, image_size).parameter_count() - parameters);
    if (best_gap < 0 || gap < best_gap) {
      best_gap = gap;
      best = s;
    }
  }
  return best;
}

const std::vector<PaperMlpWidth>& paper_mlp_widths() {
  // Table 7 (E.6): hidden width, learning rate, batch size, epochs, dropout.
  static const std::vector<PaperMlpWidth> widths{{250, 4.0e-4, 450, 50, 0.05},  {500, 3.5e-4, 350, 50, 0.25},
                                                 {750, 3.0e-4, 300, 50, 0.30},  {1000, 4.0e-4, 450, 50, 0.35},
                                                 {1250, 3.5e-4, 350, 50, 0.45}, {1500, 4.0e-4, 300, 50, 0.55},
                                                 {2000, 4.0e-4, 400, 50, 0.60}, {2500, 3.5e-4, 450, 50, 0.65},
                                                 {3000, 4.5e-4, 450, 50, 0.70}, {4000, 4.5e-4, 650, 50, 0.70}};
  return widths;
}

const PaperMlpWidth& paper_mlp_width(int64_t hidden) {
  require_input(hidden > 0, "hidden width {} (expected > 0)", hidden);
  const auto& widths = paper_mlp_widths();
  const PaperMlpWidth* best = &widths.front();
  for (const auto& w : widths) {
    if (std::llabs(w.hidden - hidden) < std::llabs(best->hidden - hidden)) best = &w;
  }
  return *best;
}

}  // namespace tttlab
