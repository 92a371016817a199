#include "tttlab/studies/presets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

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

std::vector<StudyPreset> make_presets() {
  const PaperModelSize& tiny = paper_model_size(kTinyLeNetParameters);
  std::vector<StudyPreset> p;
  {
    StudyPreset s;
    s.name = "default";
    s.source = "tttlab run's defaults: Tables 3-5 (TinyLeNet row) for images; E.3's head optimiser for embeddings";
    s.summary =
        "images as paper-table4-tinylenet; a linear head on embeddings trained until its loss stops improving "
        "(10 epochs of patience, at most 1000)";
    s.size_scale = 0.5;
    s.model_train = table3_training(tiny);
    s.head_train = e3_head(1000, 10);
    s.k = tiny.ttt_k;
    s.steps = tiny.ttt_steps;
    s.lr = tiny.ttt_lr;
    s.weight_decay = 0.0;
    s.majority_k = tiny.majority_k;
    p.push_back(s);
  }
  {
    StudyPreset s;
    s.name = "paper-e2";
    s.source = "Appendix E.2 (MNIST, TinyLeNet features, size_scale 0.5)";
    s.summary = "TTT k 100, 100 full-batch Adam steps, lr 0.1; the network trained with Table 3's TinyLeNet row";
    s.size_scale = 0.5;
    s.model_train = table3_training(tiny);
    s.k = 100;
    s.steps = 100;
    s.lr = 0.1;
    s.weight_decay = 0.0;
    s.majority_k = tiny.majority_k;
    p.push_back(s);
  }
  {
    StudyPreset s;
    s.name = "paper-table4-tinylenet";
    s.source = "Appendix E.4, Tables 3, 4 and 5 (MNIST, the 6,386-parameter LeNet)";
    s.summary = "network: Adam lr 2e-3, batch 400, 100 epochs; TTT k 50, 200 steps, lr 1e-3; majority k 6";
    s.size_scale = 0.5;
    s.model_train = table3_training(tiny);
    s.k = tiny.ttt_k;
    s.steps = tiny.ttt_steps;
    s.lr = tiny.ttt_lr;
    s.weight_decay = 0.0;
    s.majority_k = tiny.majority_k;
    p.push_back(s);
  }
  {
    StudyPreset s;
    s.name = "paper-figure5-data";
    s.source = "Appendix E.4, Figure 5 left (MNIST, data scaling)";
    s.summary = "TTT k 80, 500 steps, lr 0.02; the network as in Table 3's TinyLeNet row; majority k 6";
    s.size_scale = 0.5;
    s.model_train = table3_training(tiny);
    s.k = 80;
    s.steps = 500;
    s.lr = 0.02;
    s.weight_decay = 0.0;
    s.majority_k = tiny.majority_k;
    p.push_back(s);
  }
  {
    StudyPreset s;
    s.name = "paper-imagenet-sae";
    s.source = "Appendix E.3 and section 3.1 (ImageNet CLIP embeddings, Table 1)";
    s.summary = "head: Adam lr 1e-3, batch 512, wd 5e-9, 100 epochs; TTT k 50, 80 steps, lr 0.02";
    s.head_train = e3_head(100, 0);
    s.k = 50;
    s.steps = 80;
    s.lr = 0.02;
    s.weight_decay = 0.0;
    p.push_back(s);
  }
  {
    StudyPreset s;
    s.name = "paper-imagenet-linear";
    s.source = "Appendix E.6 (ImageNet CLIP embeddings, the base linear classifier)";
    s.summary = "head: Adam lr 1e-3, batch 250, 50 epochs, no weight decay; TTT k 600, 50 steps, lr 0.02";
    s.head_train = TrainConfig{50, 250, 1e-3, 0.0};
    s.k = 600;
    s.steps = 50;
    s.lr = 0.02;
    s.weight_decay = 0.0;
    p.push_back(s);
  }
  {
    const PaperMlpTtt mlp;
    StudyPreset s;
    s.name = "paper-table7-mlp";
    s.source = "Appendix E.6, Tables 7 and 8 (TTT of an MLP head's last layer on its hidden features)";
    s.summary = fmt::format("TTT k {}, {} steps, lr {:g}; majority k {} (the MLP's training: Table 7, per width)",
                            mlp.k, mlp.steps, mlp.lr, mlp.majority_k);
    s.k = mlp.k;
    s.steps = mlp.steps;
    s.lr = mlp.lr;
    s.weight_decay = 0.0;
    s.majority_k = mlp.majority_k;
    p.push_back(s);
  }
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
