#pragma once
// Figures with gnuplot (Debian's gnuplot-nox): a script is written beside the figure (so it can be
// re-run or edited) and rendered to PNG (pngcairo) and SVG.
#include <filesystem>
#include <string>

namespace tttlab {

// Whether a gnuplot binary can be run (figures are skipped or reported missing without it).
bool have_gnuplot();

// Writes <stem>.gp with `body` (gnuplot commands that draw one figure, reading data files by path)
// once for each terminal, runs gnuplot on it and returns true when <stem>.png and <stem>.svg exist.
// Without gnuplot, or when it fails, prints one warning line on stderr and returns false: a missing
// figure never fails a run whose numbers are on disk.
bool render_gnuplot(const std::filesystem::path& stem, const std::string& body, int width = 900, int height = 600);

}  // namespace tttlab
