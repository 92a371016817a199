#pragma once
// report: the terminal table, results.json (docs/design.md, "results.json") and the per-point outputs.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tttlab/eval/summary.hpp"
#include "tttlab/studies/study.hpp"

namespace tttlab {

// The JSON of a training setting and of the TTT settings, as results.json and the sweeps' settings
// record them (one definition, so the two files name every setting alike).
nlohmann::json train_config_json(const TrainConfig& t);
nlohmann::json ttt_settings_json(const LocalFitConfig& t);
// A global training's log: criterion, epochs run, final losses, the convergence verdict, the curves.
nlohmann::json train_log_json(const TrainLog& log);
// One line for the terminal, e.g. "global head: 412 epochs, train loss 0.3100, validation loss
// 0.3500; converged (validation loss flat for 10 epochs; stopped after 412 of at most 1000)".
std::string train_log_line(const TrainLog& log, const std::string& label);

// {"labelled", "methods": {name: {"accuracy", "ci90", "mean_ce", "nll", "ece", "brier", "n"}},
//  "comparisons": {name: {"accuracy_diff", "ci90", "nll_diff", "nll_ci90", "paired"}}, "dataset",
//  "config" (every setting, the seed, library versions), "timing"}; write_study_outputs adds "outputs".
// A test set without labels gives "labelled": false, methods {name: {"n"}} and no comparisons.
nlohmann::json study_results_json(const StudyConfig& cfg, const StudyResult& result, const Summary& summary);

// summarize() of the study's methods against the global head, plus the paired comparisons that the
// optional methods exist for: "ttt - ttt_fixed" (tuned against fixed settings) and
// "ttt_adaptive - ttt" (per-point choice against the single tuned setting). An empty Summary when
// the test set has no labels.
Summary summarize_study(const StudyResult& result, const BootstrapConfig& bootstrap);

// One row per method (accuracy, CI, mean CE, ECE, Brier, n) and one per comparison (accuracy and NLL
// differences with their paired CIs).
std::string summary_table(const Summary& summary, double level);

// What the terminal shows after a run: summary_table, or for a test set without labels one line
// saying that no metrics were computed.
std::string study_summary_text(const StudyResult& result, const Summary& summary, double level);

// Everything `tttlab run` prints on stdout about a finished study, before the line naming results.json:
// the data set, the training logs, the selection, the settings that ran, study_summary_text, the
// arithmetic per point and the warnings.
std::string study_report_text(const StudyResult& result, const Summary& summary, double level);

// Writes into out_dir (created if needed), each file atomically, results.json last:
//   pred_<method>.npy (int64 [M]), ce_<method>.npy (float64 [M], labelled test sets), test_labels.npy
//   (labelled test sets), neighbors.npy (int64 [M, k]), head.safetensors (the global head),
//   model.safetensors (if a network was trained), with save_probs probs_<method>.npy (float32 [M, C])
//   for each method with probabilities, and, if export_dir is set, the features as an embedding
//   folder there.
// A reused out_dir keeps nothing of an earlier run: before writing, results.json and every other file
// a run owns (the names above; pred_*, ce_* and probs_* of any method) that this run will not write
// are removed, so a stale model.safetensors cannot sit beside new results. Other files are left alone,
// as is an input of this run (--model or --head) that lies in out_dir.
void write_study_outputs(const std::filesystem::path& out_dir, const StudyConfig& cfg, const StudyResult& result,
                         const Summary& summary, const std::filesystem::path& export_dir = {}, bool save_probs = false);

}  // namespace tttlab
