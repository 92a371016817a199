#pragma once
// The outputs of `tttlab reproduce table1`: the terminal table, results.json, per-point .npy files
// and the figures (O1: fig2_neighbor_cosine.{png,svg}; O3: fig3_top_probabilities.{png,svg}).
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tttlab/eval/summary.hpp"
#include "tttlab/studies/table1.hpp"

namespace tttlab {

// Accuracies with bootstrap CIs, and the paired comparisons of table1_comparisons().
Summary summarize_table1(const Table1Result& r, const BootstrapConfig& bootstrap);

// {"methods", "comparisons", "table1", "o1", "o2", "o3", "sae", "dataset", "config", "timing", "outputs"}
nlohmann::json table1_json(const Table1Config& cfg, const Table1Result& r, const Summary& summary);

// Table 1 as the paper lays it out (rows Phi-hat, Psi-hat[, Psi]; columns Global, TTT) plus O1-O3.
std::string table1_text(const Table1Result& r, const Summary& summary, double level);

// O3's calibrated temperatures, for results.json and for the terminal: the median and quantiles, and
// how many fits were clamped at an end of the search range. No mean or sd: a clamped fit is a bound,
// and two of them at 1000 would outweigh hundreds of fits near 1.
nlohmann::json temperature_json(const torch::Tensor& temperatures);
std::string temperature_text(const torch::Tensor& temperatures);

// Writes every file into out_dir (created), results.json last.
void write_table1_outputs(const std::filesystem::path& out_dir, const Table1Config& cfg, const Table1Result& r,
                          const Summary& summary);

}  // namespace tttlab
