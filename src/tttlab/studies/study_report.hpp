#pragma once
// report: the terminal table, results.json (docs/design.md, "results.json") and the per-point outputs.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tttlab/eval/summary.hpp"
#include "tttlab/studies/study.hpp"

namespace tttlab {

// {"methods": {name: {"accuracy", "ci90", "mean_ce", "n"}}, "comparisons", "dataset",
//  "config" (every setting, the seed, library versions), "timing", "outputs"}
// The JSON of a training setting and of the TTT settings, as results.json and the sweeps' settings
// record them (one definition, so the two files name every setting alike).
nlohmann::json train_config_json(const TrainConfig& t);
nlohmann::json ttt_settings_json(const LocalFitConfig& t);
// A global training's log: criterion, epochs run, final losses, the convergence verdict, the curves.
nlohmann::json train_log_json(const TrainLog& log);
// One line for the terminal, e.g. "global head: 412 epochs, train loss 0.3100, validation loss
// 0.3500; converged (validation loss flat for 10 epochs; stopped after 412 of at most 1000)".
std::string train_log_line(const TrainLog& log, const std::string& label);

nlohmann::json study_results_json(const StudyConfig& cfg, const StudyResult& result, const Summary& summary);

// summarize() of the study's methods against the global head, plus the paired comparisons that the
// optional methods exist for: "ttt - ttt_fixed" (tuned against fixed settings) and
// "ttt_adaptive - ttt" (per-point choice against the single tuned setting).
Summary summarize_study(const StudyResult& result, const BootstrapConfig& bootstrap);

std::string summary_table(const Summary& summary, double level);

// Writes into out_dir (created if needed), each file atomically, results.json last:
//   pred_<method>.npy (int64 [M]), ce_<method>.npy (float64 [M]), test_labels.npy, neighbors.npy
//   (int64 [M, k]), head.safetensors (the global head), model.safetensors (if a network was trained),
//   and, if export_dir is set, the features as an embedding folder there.
// A reused out_dir keeps nothing of an earlier run: before writing, results.json and every other file
// a run owns (the names above; pred_* and ce_* of any method) that this run will not write are
// removed, so a stale model.safetensors cannot sit beside new results. Other files are left alone, as
// is an input of this run (--model or --head) that lies in out_dir.
void write_study_outputs(const std::filesystem::path& out_dir, const StudyConfig& cfg, const StudyResult& result,
                         const Summary& summary, const std::filesystem::path& export_dir = {});

}  // namespace tttlab
