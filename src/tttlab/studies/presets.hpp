#pragma once
// The paper's protocols as named presets, defined here once. A preset fixes some of a study's
// settings (the network's or the head's training, TTT's k / steps / lr, majority vote's k); the
// settings it leaves out keep the command's defaults. The CLI applies a preset first, then the
// config file, then the flags, so each may override the one before. `tttlab run`'s own defaults
// are the preset "default"; `scale` and `reproduce table1` start from the presets named in
// their help, and `scale model` takes its per-size settings from the tables of model_sizes.hpp,
// which the presets below are built from.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tttlab/studies/study.hpp"

namespace tttlab {

struct StudyPreset {
  std::string name;                        // e.g. "paper-e2"
  std::string source;                      // where the numbers come from, e.g. "Appendix E.2 (MNIST, TinyLeNet)"
  std::string summary;                     // one line
  std::optional<double> size_scale;        // images: FlexibleLeNet width
  std::optional<TrainConfig> model_train;  // images: the network's training
  std::optional<TrainConfig> head_train;   // embedding folders: the linear head's training
  std::optional<int64_t> k, steps;         // TTT
  std::optional<double> lr, weight_decay;  // TTT
  std::optional<int64_t> majority_k;
};

const std::vector<StudyPreset>& study_presets();
// InputError naming the known presets for an unknown name.
const StudyPreset& study_preset(const std::string& name);

// The preset's settings written into cfg (the others untouched); cfg.preset records its name.
void apply_preset(const StudyPreset& preset, StudyConfig& cfg);

// The preset's settings as (option, value) pairs, named as the long flags of `tttlab run` and the
// keys of its TOML config (e.g. {"k", "50"}, {"train-lr", "0.002"}), in a fixed order.
std::vector<std::pair<std::string, std::string>> preset_options(const StudyPreset& preset);

}  // namespace tttlab
