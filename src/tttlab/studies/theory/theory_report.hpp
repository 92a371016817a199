#pragma once
// Outputs of the theory experiments: DIR/<plots>.{dat,gp,png,svg}, then DIR/results.json last
// (atomically), so a results.json on disk always belongs to a finished run.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tttlab/studies/theory/prop8.hpp"
#include "tttlab/studies/theory/ttt_rate.hpp"

namespace tttlab {

// Creates `dir`, draws the plots (unless `plots` is false) and writes results.json with a "plots"
// list of the files drawn.
void write_prop8_outputs(const std::filesystem::path& dir, const Prop8Config& cfg,
                         const std::vector<Prop8Point>& points, bool plots);
void write_rate_outputs(const std::filesystem::path& dir, const RateConfig& cfg, const RateResult& result, bool plots);

// Shared by every experiment: plots listed in results["plots"], then results.json.
void finish_theory_outputs(const std::filesystem::path& dir, nlohmann::json results);
void prepare_output_dir(const std::filesystem::path& dir);

}  // namespace tttlab
