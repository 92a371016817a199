#pragma once
// From per-configuration results to one table: every configuration's result holds, per metric, its
// value on the test set and its bootstrap resampled values (metrics_json); configurations that
// differ only in the seed are pooled (seed_bootstrap.hpp) into one row per metric, written as CSV
// and JSON.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tttlab/eval/seed_bootstrap.hpp"
#include "tttlab/studies/scaling/sweep.hpp"

namespace tttlab {

// {name: {"value": mean(column), "resampled": [means of `resamples` bootstrap resamples]}} with one
// set of resampled indices for all columns (seeded by `seed`). Columns: per-point values (1-D, same
// length), e.g. 0/1 correctness of a method, or the per-point difference of two methods.
nlohmann::json metrics_json(const std::vector<std::pair<std::string, torch::Tensor>>& columns, int resamples,
                            uint64_t seed);

struct SweepRow {
  nlohmann::json x;    // the params without "seed"
  std::string metric;  // e.g. "ttt", "ttt - global"
  SeedEstimate estimate;
};

// Groups runs by params without "seed" (in first-seen order) and pools each metric found in
// result["metrics"] over the group's seeds. InputError when a result lacks "metrics" or a metric
// differs in its shape.
std::vector<SweepRow> aggregate_sweep(const std::vector<SweepRun>& runs, double level);

// CSV: the x keys (of the first row), metric, value, ci_lo, ci_hi, seeds; one line per row.
std::string sweep_rows_csv(const std::vector<SweepRow>& rows);
nlohmann::json sweep_rows_json(const std::vector<SweepRow>& rows, double level);

// Writes <dir>/<name>.csv and <dir>/<name>.json ({"settings", "level", "rows"}) atomically.
void write_sweep_tables(const std::filesystem::path& dir, const std::string& name, const std::vector<SweepRow>& rows,
                        const nlohmann::json& settings, double level);

}  // namespace tttlab
