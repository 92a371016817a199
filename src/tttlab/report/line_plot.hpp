#pragma once
// Line plots (the theory lab's figures): one call writes STEM.dat (the data, one block per series)
// and draws it with gnuplot (report/gnuplot.hpp: STEM.gp, STEM.png, STEM.svg).
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tttlab/report/gnuplot.hpp"

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
  std::string extra;  // extra gnuplot commands before `plot` (e.g. "set yrange [0:1.05]"); the x range is
                      // the series' x values padded (padded_xrange) unless `extra` sets another
};

// Writes the four files (each atomically). Throws std::runtime_error when gnuplot fails or is
// missing (the .dat and .gp files stay, so the plot can be drawn later).
void write_plot(const std::filesystem::path& stem, const PlotSpec& spec);

}  // namespace tttlab
