// What both masked-TTT paths share: checks, the non-adaptive mask, per-point statistics.
#include <cmath>

#include "tttlab/core/error.hpp"
#include "tttlab/sae/masked_ttt.hpp"

namespace tttlab {

void MaskedFitConfig::validate() const {
  fit.validate();
  require_input(fit.mode == LocalFitMode::Erm, "masked TTT: mode {} (only erm, full batch, is supported)",
                to_string(fit.mode));
  require_input(std::isfinite(penalty) && penalty >= 0, "masked TTT: penalty={} (expected >= 0)", penalty);
  require_input(std::isfinite(temperature) && temperature > 0, "masked TTT: temperature={} (expected > 0)",
                temperature);
  require_input(std::isfinite(mask_init) && mask_init > 0,
                "masked TTT: mask init={} (expected > 0, so that every concept starts on)", mask_init);
}

torch::Tensor test_point_masks(const torch::Tensor& test_concepts) { return test_concepts.gt(0); }

MaskStatistics mask_statistics(const torch::Tensor& masks_in, const LocalFitData& data, int64_t k) {
  torch::NoGradGuard no_grad;
  const auto masks = masks_in.to(torch::kCPU, torch::kBool);
  const int64_t m = masks.size(0), d1 = masks.size(1);
  require_input(data.test_x.size(0) == m && data.test_x.size(1) == d1,
                "mask statistics: {} masks of width {} for {} test points of width {}", m, d1, data.test_x.size(0),
                data.test_x.size(1));
  const auto active_train = data.train_x.to(torch::kCPU).gt(0);
  const auto test_active = data.test_x.to(torch::kCPU).gt(0);
  auto union_active = torch::zeros({m, d1}, torch::kBool);
  const auto nb = data.neighbors.to(torch::kCPU).slice(1, 0, k);
  for (int64_t j = 0; j < k; ++j) union_active.logical_or_(active_train.index_select(0, nb.select(1, j)));
  MaskStatistics s;
  s.mask_size = masks.sum(1);
  s.mask_in_neighborhood = masks.logical_and(union_active).sum(1);
  s.neighborhood_concepts = union_active.sum(1);
  s.test_concepts = test_active.sum(1);
  s.kept_test_concepts = test_active.logical_and(masks).sum(1);
  return s;
}

}  // namespace tttlab
