#pragma once
// Line plots with gnuplot (gnuplot-nox): one call writes STEM.dat (the data, one block per series),
// STEM.gp (the script, self-contained: `gnuplot STEM.gp` redraws), STEM.png (pngcairo) and STEM.svg.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tttlab/report/gnuplot.hpp"  // have_gnuplot

namespace tttlab {

struct PlotSeries {
  std::string title;
  std::vector<double> x, y;
  std::vector<double> err;     // optional: symmetric error bars (same length as y)
  std::vector<double> lo, hi;  // optional instead of err: error bars from lo to hi (e.g. a CI)
  std::string style;           // gnuplot style, e.g. "lines dt 2"; empty: linespoints, or yerrorlines with bars
  bool has_bars() const { return !err.empty() || !lo.empty(); }
};

// A series drawn with `style` (points filled in afterwards).
inline PlotSeries styled_series(std::string title, std::string style) {
  PlotSeries s;
  s.title = std::move(title);
  s.style = std::move(style);
  return s;
}

struct PlotSpec {
  std::string title, xlabel, ylabel;
  bool logx = false, logy = false;
  std::vector<PlotSeries> series;
  std::string extra;  // extra gnuplot commands before `plot` (e.g. "set yrange [0:1.05]")
};


// Writes the four files (each atomically) and runs gnuplot twice. Throws std::runtime_error when
// gnuplot fails or is missing (the .dat and .gp files stay, so the plot can be drawn later).
void write_plot(const std::filesystem::path& stem, const PlotSpec& spec);

}  // namespace tttlab
