#include "tttlab/studies/study_report.hpp"

#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/io/npy.hpp"

namespace tttlab {

namespace fs = std::filesystem;
using nlohmann::json;

json train_config_json(const TrainConfig& t) {
  return {{"epochs", t.epochs},
          {"batch_size", t.batch_size},
          {"lr", t.lr},
          {"weight_decay", t.weight_decay},
          {"patience", t.patience},
          {"min_improvement", t.min_improvement},
          {"criterion", t.criterion()}};
}

json train_log_json(const TrainLog& log) {
  const auto val = log.final_val_loss();
  return {{"criterion", log.criterion},
          {"monitored", log.monitored},
          {"epochs_run", log.epochs_run},
          {"kept_epoch", log.best_epoch},
          {"final_train_loss", log.final_train_loss()},
          {"final_val_loss", val ? json(*val) : json(nullptr)},
          {"converged", log.converged},
          {"convergence", log.convergence},
          {"train_loss", log.epoch_loss},
          {"val_loss", log.val_loss}};  // its seconds are in "timing" (train_model_s, train_head_s)
}

std::string train_log_line(const TrainLog& log, const std::string& label) {
  const auto val = log.final_val_loss();
  return fmt::format("{}: {} epochs, train loss {:.4f}{}; {} ({})", label, log.epochs_run, log.final_train_loss(),
                     val ? fmt::format(", validation loss {:.4f}", *val) : std::string(),
                     log.converged ? "converged" : "NOT converged", log.convergence);
}

json ttt_settings_json(const LocalFitConfig& t) {
  return {{"k", t.k},
          {"steps", t.steps},
          {"lr", t.lr},
          {"weight_decay", t.weight_decay},
          {"betas", {t.beta1, t.beta2}},
          {"eps", t.eps},
          {"mode", to_string(t.mode)}};
}

namespace {

// The settings that ran: after --tune, TTT's and majority vote's are the chosen ones.
json config_json(const StudyConfig& requested, const StudyResult& result) {
  const StudyConfig& cfg = result.chosen;
  const auto& t = cfg.ttt;
  json c = {
      {"data", cfg.data},
      {"preset", cfg.preset},
      {"tune", cfg.tune},
      {"adaptive", cfg.adaptive},
      {"compare_fixed", cfg.compare_fixed},
      {"seed", cfg.seed},
      {"index", cfg.index},
      {"device", {{"requested", requested.device}, {"used", result.device}}},
      {"ttt", ttt_settings_json(t)},
      {"local_fit_path", result.local_fit_path},
      {"majority", {{"k", cfg.effective_majority_k()}}},
      {"bootstrap", {{"resamples", cfg.bootstrap.resamples}, {"level", cfg.bootstrap.level}}},
      {"versions", library_versions()},
      {"machine", machine_facts()},
  };
  if (cfg.tune && cfg.compare_fixed) c["fixed_ttt"] = ttt_settings_json(requested.ttt);  // the method ttt_fixed
  c["ttt"].update({{"points_per_batch", t.points_per_batch},
                   {"memory_budget_bytes", t.memory_budget_bytes},
                   {"optimizer", "adam"},
                   {"loss", "mean cross-entropy over the neighbours"}});
  if (result.model) {
    c["model"] = {{"architecture", "FlexibleLeNet"},
                  {"size_scale", result.model->shape().size_scale},
                  {"feature_dim", result.model->shape().feature_dim},
                  {"parameters", result.model->shape().parameter_count()},
                  {"source", cfg.model_path.empty() ? "trained" : cfg.model_path.string()}};
    if (cfg.model_path.empty()) c["model"]["train"] = train_config_json(cfg.model_train);
  } else {
    // A head given in memory (StudyConfig::initial_head: the Python package's head=, the MLP studies'
    // output layer) is neither trained nor read from a file.
    const bool in_memory = cfg.initial_head.weight.defined();
    c["head"] = {{"source", in_memory ? "in memory" : cfg.head_path.empty() ? "trained" : cfg.head_path.string()}};
    if (!in_memory && cfg.head_path.empty()) c["head"]["train"] = train_config_json(cfg.head_train);
  }
  return c;
}

}  // namespace

json study_results_json(const StudyConfig& cfg, const StudyResult& result, const Summary& summary) {
  json j;
  j["tttlab_version"] = TTTLAB_VERSION;
  j["dataset"] = {{"name", result.dataset_name},
                  {"num_train", result.num_train},
                  {"num_test", result.num_test},
                  {"dim", result.dim},
                  {"num_classes", result.num_classes},
                  {"classes_without_training_examples", result.classes_without_training_examples}};
  const bool labelled = result.test_labels.defined();
  j["labelled"] = labelled;
  auto or_null = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json methods = json::object();
  if (labelled) {
    for (const auto& m : summary.methods) {
      methods[m.name] = {{"accuracy", m.accuracy},
                         {"ci90", {m.ci.lo, m.ci.hi}},
                         {"mean_ce", or_null(m.mean_ce)},
                         {"nll", or_null(m.mean_ce)},
                         {"ece", or_null(m.ece)},
                         {"brier", or_null(m.brier)},
                         {"n", m.n}};
    }
  } else {
    // No labels, no metrics: each method only says how many points it predicted.
    for (const auto& m : result.methods) methods[m.name] = {{"n", result.num_test}};
  }
  j["methods"] = methods;
  json comparisons = json::object();
  for (const auto& c : summary.comparisons) {
    comparisons[c.name] = {{"accuracy_diff", c.accuracy_diff},
                           {"ci90", {c.ci.lo, c.ci.hi}},
                           {"nll_diff", or_null(c.nll_diff)},
                           {"nll_ci90", c.nll_ci ? json::array({c.nll_ci->lo, c.nll_ci->hi}) : json(nullptr)},
                           {"paired", true}};
  }
  j["comparisons"] = comparisons;
  j["config"] = config_json(cfg, result);
  json training = json::object();
  if (result.model_log) training["model"] = train_log_json(*result.model_log);
  if (result.head_log) training["head"] = train_log_json(*result.head_log);
  j["training"] = training;
  j["validation"] =
      result.validation.empty() ? json(nullptr) : json{{"source", result.validation}, {"size", result.num_val}};
  j["selection"] = result.selection ? selection_json(result.chosen.grid, *result.selection) : json(nullptr);
  j["warnings"] = result.warnings;
  json compute = {{"ttt_flops_per_point", result.ttt_flops_per_point},
                  {"ttt_fixed_flops_per_point", result.fixed_flops_per_point},
                  {"flops", "6 k C d per full-batch Adam step per test point"}};
  if (result.adaptive_k.defined()) {
    compute["ttt_adaptive_flops_per_point"] = result.adaptive_flops_per_point;
    json chosen = json::object();
    const auto k = result.adaptive_k.contiguous(), steps = result.adaptive_steps.contiguous();
    std::map<std::string, int64_t> counts;
    for (int64_t i = 0; i < k.numel(); ++i) {
      ++counts[fmt::format("k={},steps={}", k[i].item<int64_t>(), steps[i].item<int64_t>())];
    }
    compute["ttt_adaptive_choices"] = counts;
    compute["ttt_adaptive_holdouts"] = result.chosen.adaptive_holdouts;
  }
  j["compute"] = compute;
  json timing = json::object();
  for (const auto& [stage, s] : result.timing.seconds) timing[stage + "_s"] = s;
  timing["total_s"] = result.timing.total();
  if (result.num_test > 0) {
    for (const auto& [stage, s] : result.timing.seconds) {
      if (stage == "ttt") timing["ttt_ms_per_point"] = 1000.0 * s / static_cast<double>(result.num_test);
    }
  }
  j["timing"] = timing;
  return j;
}

Summary summarize_study(const StudyResult& result, const BootstrapConfig& bootstrap) {
  if (!result.test_labels.defined()) return {};
  Summary summary = summarize(result.methods, result.test_labels, bootstrap);
  auto method = [&](const std::string& name) -> const MethodPredictions* {
    for (const auto& m : result.methods) {
      if (m.name == name) return &m;
    }
    return nullptr;
  };
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{{"ttt", "ttt_fixed"}, {"ttt_adaptive", "ttt"}}) {
    const MethodPredictions *ma = method(a), *mb = method(b);
    if (ma == nullptr || mb == nullptr) continue;
    const Summary s = summarize({*mb, *ma}, result.test_labels, bootstrap, b);
    summary.comparisons.insert(summary.comparisons.end(), s.comparisons.begin(), s.comparisons.end());
  }
  return summary;
}

std::string summary_table(const Summary& summary, double level) {
  auto value = [](const std::optional<double>& v) { return v ? fmt::format("{:.4f}", *v) : std::string("-"); };
  std::string s = fmt::format("{:<10} {:>9}  {:>20}  {:>8}  {:>7}  {:>7}  {:>7}\n", "method", "accuracy",
                              fmt::format("{:.0f}% CI", 100 * level), "mean CE", "ECE", "Brier", "n");
  for (const auto& m : summary.methods) {
    s += fmt::format("{:<10} {:>8.2f}%  {:>20}  {:>8}  {:>7}  {:>7}  {:>7}\n", m.name, 100 * m.accuracy,
                     fmt::format("[{:.2f}, {:.2f}]", 100 * m.ci.lo, 100 * m.ci.hi), value(m.mean_ce), value(m.ece),
                     value(m.brier), m.n);
  }
  for (const auto& c : summary.comparisons) {
    s += fmt::format("{:<16} {:+.2f} pp, paired {:.0f}% CI [{:+.2f}, {:+.2f}]", c.name, 100 * c.accuracy_diff,
                     100 * level, 100 * c.ci.lo, 100 * c.ci.hi);
    if (c.nll_diff && c.nll_ci) {
      s += fmt::format("; NLL {:+.4f} [{:+.4f}, {:+.4f}]", *c.nll_diff, c.nll_ci->lo, c.nll_ci->hi);
    }
    s += "\n";
  }
  return s;
}

std::string study_summary_text(const StudyResult& result, const Summary& summary, double level) {
  if (!result.test_labels.defined()) {
    return fmt::format("the test set has no labels, so no metrics were computed ({} test points predicted)\n",
                       result.num_test);
  }
  return summary_table(summary, level);
}

namespace {

bool owned_by_a_run(const std::string& name) {
  auto ends_with = [&](const std::string& tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (name == "results.json" || name == "test_labels.npy" || name == "neighbors.npy" || name == "head.safetensors" ||
      name == "model.safetensors") {
    return true;
  }
  return (name.rfind("pred_", 0) == 0 || name.rfind("ce_", 0) == 0 || name.rfind("probs_", 0) == 0) &&
         ends_with(".npy");
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return !b.empty() && fs::equivalent(a, b, ec);
}

// Removes the files of an earlier run in out_dir that this run will not write. results.json goes
// first: were the process killed midway, the folder would hold no results.json rather than one that
// describes files of two runs.
void clear_earlier_run(const fs::path& out_dir, const std::set<std::string>& will_write, const StudyConfig& cfg) {
  fs::remove(out_dir / "results.json");
  for (const auto& entry : fs::directory_iterator(out_dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !owned_by_a_run(name) || will_write.count(name)) continue;
    if (same_file(entry.path(), cfg.model_path) || same_file(entry.path(), cfg.head_path)) continue;
    fs::remove(entry.path());
  }
}

}  // namespace

std::string study_report_text(const StudyResult& result, const Summary& summary, double level) {
  const StudyConfig& ran = result.chosen;
  std::string s = fmt::format("\n{}: {} train / {} test, d={}, {} classes, on {}", result.dataset_name,
                              result.num_train, result.num_test, result.dim, result.num_classes, result.device);
  for (const auto& [key, note] : result.notes) s += fmt::format("; {}", note);
  s += "\n";
  if (result.model_log) s += train_log_line(*result.model_log, "network") + "\n";
  if (result.head_log) s += train_log_line(*result.head_log, "global head") + "\n";
  if (result.selection) {
    const auto& sel = *result.selection;
    s += fmt::format(
        "selection on validation ({} points of {}): TTT k={}, {} steps, lr={:g} (val accuracy {:.2f}%); "
        "majority k={} ({:.2f}%); {} configurations in {:.1f} s\n",
        sel.num_points, sel.split, sel.chosen_ttt.k, sel.chosen_ttt.steps, sel.chosen_ttt.lr,
        100 * sel.chosen_ttt.accuracy, sel.chosen_majority.k, 100 * sel.chosen_majority.accuracy,
        sel.ttt.size() + sel.majority.size(), sel.seconds);
  }
  s += fmt::format("TTT: k={}, {} Adam steps, lr={} ({}); majority vote: k={} [preset {}{}]\n\n", ran.ttt.k,
                   ran.ttt.steps, ran.ttt.lr, to_string(ran.ttt.mode), ran.effective_majority_k(), ran.preset,
                   ran.tune ? ", tuned on validation" : "");
  s += study_summary_text(result, summary, level);
  if (ran.adaptive || result.fixed_flops_per_point > 0) {
    s += fmt::format("TTT arithmetic per point: {:.3g} flops (ttt){}{}\n", result.ttt_flops_per_point,
                     result.fixed_flops_per_point > 0 ? fmt::format(", {:.3g} (ttt_fixed)", result.fixed_flops_per_point)
                                                      : "",
                     ran.adaptive ? fmt::format(", {:.3g} (ttt_adaptive, its leave-one-out included)",
                                                result.adaptive_flops_per_point)
                                  : "");
  }
  for (const auto& w : result.warnings) s += w + "\n";
  return s;
}

void write_study_outputs(const fs::path& out_dir, const StudyConfig& cfg, const StudyResult& result,
                         const Summary& summary, const fs::path& export_dir, bool save_probs) {
  fs::create_directories(out_dir);
  const bool writes_model = result.model && cfg.model_path.empty();
  const bool labelled = result.test_labels.defined();
  std::set<std::string> will_write{"neighbors.npy", "head.safetensors"};
  if (labelled) will_write.insert("test_labels.npy");
  if (writes_model) will_write.insert("model.safetensors");
  for (const auto& m : result.methods) {
    will_write.insert("pred_" + m.name + ".npy");
    if (m.ce.defined()) will_write.insert("ce_" + m.name + ".npy");
    if (save_probs && m.probs.defined()) will_write.insert("probs_" + m.name + ".npy");
  }
  clear_earlier_run(out_dir, will_write, cfg);
  json outputs = json::object();
  auto record = [&](const std::string& key, const std::string& file) { outputs[key] = file; };
  for (const auto& m : result.methods) {
    write_npy(out_dir / ("pred_" + m.name + ".npy"), m.pred);
    record("pred_" + m.name, "pred_" + m.name + ".npy");
    if (m.ce.defined()) {
      write_npy(out_dir / ("ce_" + m.name + ".npy"), m.ce);
      record("ce_" + m.name, "ce_" + m.name + ".npy");
    }
    if (save_probs && m.probs.defined()) {
      write_npy(out_dir / ("probs_" + m.name + ".npy"), m.probs.to(torch::kFloat));
      record("probs_" + m.name, "probs_" + m.name + ".npy");
    }
  }
  if (labelled) {
    write_npy(out_dir / "test_labels.npy", result.test_labels);
    record("test_labels", "test_labels.npy");
  }
  write_npy(out_dir / "neighbors.npy", result.neighbors);
  record("neighbors", "neighbors.npy");
  save_head(out_dir / "head.safetensors", result.head);
  record("head", "head.safetensors");
  if (writes_model) {
    save_lenet(out_dir / "model.safetensors", result.model);
    record("model", "model.safetensors");
  }
  if (!export_dir.empty()) {
    Dataset features;
    features.name = result.dataset_name;
    features.train = result.train_features;
    features.test = result.test_features;
    features.num_classes = result.num_classes;
    write_embedding_folder(export_dir, features);
    record("embeddings", export_dir.string());
  }
  json j = study_results_json(cfg, result, summary);
  j["outputs"] = outputs;
  write_text_atomically(out_dir / "results.json", j.dump(2) + "\n");
}

}  // namespace tttlab
