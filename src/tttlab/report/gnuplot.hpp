#pragma once
// Figures with gnuplot (Debian's gnuplot-nox). A figure is a script, <stem>.gp, with no terminal in
// it, drawn to <stem>.png (pngcairo) and <stem>.svg. gnuplot runs in the script's folder and scripts
// name their data files without a folder, so a results folder can be moved and still redrawn:
//   cd DIR && gnuplot -e "set terminal pngcairo; set output 'fig.png'" fig.gp
// Every figure-drawing module (line plots, sweep plots, the Table 1 report) goes through here.
#include <filesystem>
#include <string>
#include <vector>

namespace tttlab {

// Whether a gnuplot binary can be run.
bool have_gnuplot();

// `s` as a double-quoted gnuplot string (quotes and backslashes escaped).
std::string gnuplot_string(const std::string& s);

// "set xrange [a:b]" for data with x values `xs`, widened on each side by `fraction` of their span
// (on a log axis, of their span in decades), so that the points at the ends and their error bars sit
// inside the frame rather than on its edge, where gnuplot's autoscaling puts them. A single x value
// gets a range around it. Values that cannot be drawn (not finite; <= 0 on a log axis) are ignored;
// "" when none is left.
std::string padded_xrange(const std::vector<double>& xs, bool log_x, double fraction = 0.05);

// Writes <stem>.gp (atomically) and draws <stem>.png and <stem>.svg of width x height pixels, each
// into a temporary file renamed when gnuplot succeeds. Throws std::runtime_error naming the figure
// when gnuplot is missing or fails (the script stays, so the figure can be drawn later).
void draw_gnuplot(const std::filesystem::path& stem, const std::string& script, int width = 900, int height = 600);

// The same for figures beside numbers already on disk: a failure prints one warning line on stderr
// and returns false, so a missing figure never fails a run.
bool render_gnuplot(const std::filesystem::path& stem, const std::string& script, int width = 900, int height = 600);

}  // namespace tttlab
