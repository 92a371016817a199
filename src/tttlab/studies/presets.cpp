#include "tttlab/studies/presets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

#include "tttlab/core/error.hpp"
#include "tttlab/models/model_sizes.hpp"

namespace tttlab {

namespace {

// The TinyLeNet row of Tables 3-5 (6,386 parameters; our FlexibleLeNet at size_scale 0.5 has 7,646).
constexpr int64_t kTinyLeNetParameters = 6386;

TrainConfig table3_training(const PaperModelSize& row) { return {row.train_epochs, row.train_batch, row.train_lr}; }

// E.3's global head on CLIP embeddings: Adam, lr 1e-3, batch 512, weight decay 5e-9.
TrainConfig e3_head(int64_t epochs, int64_t patience) {
  TrainConfig t{epochs, 512, 1e-3, 5e-9};
  t.patience = patience;
  return t;
}

// A preset with its name and origin, and TTT's settings (no weight decay).
StudyPreset ttt_preset(std::string name, std::string source, std::string summary, int64_t k, int64_t steps, double lr) {
  StudyPreset s;
  s.name = std::move(name);
  s.source = std::move(source);
  s.summary = std::move(summary);
  s.k = k;
  s.steps = steps;
  s.lr = lr;
  s.weight_decay = 0.0;
  return s;
}

// The same on the TinyLeNet of Tables 3-5: size_scale 0.5, trained with Table 3's row, Table 5's
// majority vote.
StudyPreset tinylenet_preset(std::string name, std::string source, std::string summary, int64_t k, int64_t steps,
                             double lr) {
  const PaperModelSize& tiny = paper_model_size(kTinyLeNetParameters);
  StudyPreset s = ttt_preset(std::move(name), std::move(source), std::move(summary), k, steps, lr);
  s.size_scale = 0.5;
  s.model_train = table3_training(tiny);
  s.majority_k = tiny.majority_k;
  return s;
}

std::vector<StudyPreset> make_presets() {
  const PaperModelSize& tiny = paper_model_size(kTinyLeNetParameters);
  std::vector<StudyPreset> p;
  p.push_back(tinylenet_preset(
      "default", "tttlab run's defaults: Tables 3-5 (TinyLeNet row) for images; E.3's head optimiser for embeddings",
      "images as paper-table4-tinylenet; a linear head on embeddings trained until its loss stops improving "
      "(10 epochs of patience, at most 1000)",
      tiny.ttt_k, tiny.ttt_steps, tiny.ttt_lr));
  p.back().head_train = e3_head(1000, 10);
  p.push_back(tinylenet_preset(
      "paper-e2", "Appendix E.2 (MNIST, TinyLeNet features, size_scale 0.5)",
      "TTT k 100, 100 full-batch Adam steps, lr 0.1; the network trained with Table 3's TinyLeNet row", 100, 100, 0.1));
  p.push_back(
      tinylenet_preset("paper-table4-tinylenet", "Appendix E.4, Tables 3, 4 and 5 (MNIST, the 6,386-parameter LeNet)",
                       "network: Adam lr 2e-3, batch 400, 100 epochs; TTT k 50, 200 steps, lr 1e-3; majority k 6",
                       tiny.ttt_k, tiny.ttt_steps, tiny.ttt_lr));
  p.push_back(tinylenet_preset("paper-figure5-data", "Appendix E.4, Figure 5 left (MNIST, data scaling)",
                               "TTT k 80, 500 steps, lr 0.02; the network as in Table 3's TinyLeNet row; majority k 6",
                               80, 500, 0.02));
  p.push_back(ttt_preset("paper-imagenet-sae", "Appendix E.3 and section 3.1 (ImageNet CLIP embeddings, Table 1)",
                         "head: Adam lr 1e-3, batch 512, wd 5e-9, 100 epochs; TTT k 50, 80 steps, lr 0.02", 50, 80,
                         0.02));
  p.back().head_train = e3_head(100, 0);
  p.push_back(ttt_preset("paper-imagenet-linear", "Appendix E.6 (ImageNet CLIP embeddings, the base linear classifier)",
                         "head: Adam lr 1e-3, batch 250, 50 epochs, no weight decay; TTT k 600, 50 steps, lr 0.02", 600,
                         50, 0.02));
  p.back().head_train = TrainConfig{50, 250, 1e-3, 0.0};
  const PaperMlpTtt mlp;
  p.push_back(ttt_preset(
      "paper-table7-mlp", "Appendix E.6, Tables 7 and 8 (TTT of an MLP head's last layer on its hidden features)",
      fmt::format("TTT k {}, {} steps, lr {:g}; majority k {} (the MLP's training: Table 7, per width)", mlp.k,
                  mlp.steps, mlp.lr, mlp.majority_k),
      mlp.k, mlp.steps, mlp.lr));
  p.back().majority_k = mlp.majority_k;
  return p;
}

std::string number(double v) { return fmt::format("{:g}", v); }

}  // namespace

const std::vector<StudyPreset>& study_presets() {
  static const std::vector<StudyPreset> presets = make_presets();
  return presets;
}

const StudyPreset& study_preset(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& p : study_presets()) {
    if (p.name == name) return p;
    names.push_back(p.name);
  }
  throw_input_error("unknown preset '{}' (the presets are: {}; `tttlab presets` lists their settings)", name,
                    fmt::join(names, ", "));
}

void apply_preset(const StudyPreset& preset, StudyConfig& cfg) {
  cfg.preset = preset.name;
  if (preset.size_scale) cfg.size_scale = *preset.size_scale;
  if (preset.model_train) cfg.model_train = *preset.model_train;
  if (preset.head_train) cfg.head_train = *preset.head_train;
  if (preset.k) cfg.ttt.k = *preset.k;
  if (preset.steps) cfg.ttt.steps = *preset.steps;
  if (preset.lr) cfg.ttt.lr = *preset.lr;
  if (preset.weight_decay) cfg.ttt.weight_decay = *preset.weight_decay;
  if (preset.majority_k) cfg.majority_k = *preset.majority_k;
}

std::vector<std::pair<std::string, std::string>> preset_options(const StudyPreset& preset) {
  std::vector<std::pair<std::string, std::string>> o;
  if (preset.size_scale) o.emplace_back("size-scale", number(*preset.size_scale));
  if (const auto& t = preset.model_train) {
    o.emplace_back("epochs", std::to_string(t->epochs));
    o.emplace_back("batch-size", std::to_string(t->batch_size));
    o.emplace_back("train-lr", number(t->lr));
  }
  if (const auto& t = preset.head_train) {
    o.emplace_back("head-epochs", std::to_string(t->epochs));
    o.emplace_back("head-batch-size", std::to_string(t->batch_size));
    o.emplace_back("head-lr", number(t->lr));
    o.emplace_back("head-wd", number(t->weight_decay));
    o.emplace_back("head-patience", std::to_string(t->patience));
  }
  if (preset.k) o.emplace_back("k", std::to_string(*preset.k));
  if (preset.steps) o.emplace_back("steps", std::to_string(*preset.steps));
  if (preset.lr) o.emplace_back("lr", number(*preset.lr));
  if (preset.weight_decay) o.emplace_back("wd", number(*preset.weight_decay));
  if (preset.majority_k) o.emplace_back("majority-k", std::to_string(*preset.majority_k));
  return o;
}

}  // namespace tttlab
