#include "tttlab/theory/plot.hpp"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"

namespace fs = std::filesystem;

namespace tttlab {

namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs the script from its own folder (it names its data file relative to itself).
void run_gnuplot(const std::string& terminal, const fs::path& script, const fs::path& output) {
  const fs::path tmp = output.string() + ".tmp";
  const std::string cmd = fmt::format(
      "cd {} && gnuplot -e {} {} 2>/dev/null", shell_quoted(script.parent_path().string()),
      shell_quoted(fmt::format("set terminal {}; set output {}", terminal, quoted(tmp.string()))),
      shell_quoted(script.filename().string()));
  if (std::system(cmd.c_str()) != 0 || !fs::exists(tmp)) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw std::runtime_error(fmt::format(
        "gnuplot failed to draw {} (is gnuplot-nox installed? --no-plots skips the figures)", output.string()));
  }
  fs::rename(tmp, output);
}

}  // namespace


void write_plot(const fs::path& stem, const PlotSpec& spec) {
  const fs::path dat = stem.string() + ".dat", gp = stem.string() + ".gp";
  std::ostringstream data;
  data.precision(10);
  for (const auto& s : spec.series) {
    data << "# " << s.title << "\n";
    for (size_t i = 0; i < s.x.size(); ++i) {
      data << s.x[i] << " " << s.y[i];
      if (!s.err.empty()) data << " " << s.err[i];
      if (!s.lo.empty()) data << " " << s.lo[i] << " " << s.hi[i];
      data << "\n";
    }
    data << "\n\n";
  }
  write_text_atomically(dat, data.str());

  std::ostringstream g;
  g << "# " << stem.filename().string() << ": drawn by tttlab; `gnuplot " << gp.filename().string()
    << "` redraws it (set terminal/output first)\n";
  g << "set title " << quoted(spec.title) << " noenhanced\n";
  g << "set xlabel " << quoted(spec.xlabel) << " noenhanced\nset ylabel " << quoted(spec.ylabel) << " noenhanced\n";
  if (spec.logx) g << "set logscale x\n";
  if (spec.logy) g << "set logscale y\n";
  g << "set grid\nset key below maxrows 4 noenhanced\n";
  if (!spec.extra.empty()) g << spec.extra << "\n";
  g << "datafile = " << quoted(dat.filename().string()) << "\n";
  g << "plot ";
  for (size_t i = 0; i < spec.series.size(); ++i) {
    const auto& s = spec.series[i];
    if (i) g << ", \\\n     ";
    const bool bars = s.has_bars();
    const std::string style = s.style.empty() ? (bars ? "yerrorlines" : "linespoints") : s.style;
    const std::string columns = !s.lo.empty() ? "1:2:3:4" : !s.err.empty() ? "1:2:3" : "1:2";
    g << "datafile index " << i << " using " << columns << " with " << style
      << (s.title.empty() ? std::string(" notitle") : " title " + quoted(s.title));
  }
  g << "\n";
  write_text_atomically(gp, g.str());
  const fs::path abs_gp = fs::absolute(gp), abs_stem = fs::absolute(stem);
  run_gnuplot("pngcairo size 900,700 noenhanced", abs_gp, abs_stem.string() + ".png");
  run_gnuplot("svg size 900,700 noenhanced", abs_gp, abs_stem.string() + ".svg");
}

}  // namespace tttlab
