#pragma once
// Figures of a sweep: classification error (%) against one numeric parameter, one line per metric
// with its CI as error bars, drawn with gnuplot (report/gnuplot.hpp) as PNG and SVG.
#include <filesystem>
#include <string>
#include <vector>

#include "tttlab/studies/scaling/sweep_table.hpp"

#include "tttlab/report/gnuplot.hpp"

namespace tttlab {

struct SweepPlotSpec {
  std::string x_key;  // the params key on the x axis (numeric)
  std::string x_label, title;
  bool log_x = true;
  std::vector<std::string> metrics;  // lines, e.g. {"global", "majority", "ttt"}; others are skipped
};

// Writes <prefix>.dat (x, then error %, CI low %, CI high % of each metric), <prefix>.gp,
// <prefix>.png and <prefix>.svg. Rows whose x lacks x_key or whose metric is not
// listed are left out. Throws std::runtime_error when gnuplot is missing or fails (the tables are
// written before, so a missing plotter loses no results).
void plot_sweep(const std::filesystem::path& prefix, const std::vector<SweepRow>& rows, const SweepPlotSpec& spec);

}  // namespace tttlab
