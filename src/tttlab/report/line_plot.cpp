#include "tttlab/report/line_plot.hpp"

#include <sstream>
#include <vector>

#include "tttlab/core/atomic_file.hpp"

namespace fs = std::filesystem;

namespace tttlab {

void write_plot(const fs::path& stem, const PlotSpec& spec) {
  const fs::path dat = stem.string() + ".dat";
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
  g << "set title " << gnuplot_string(spec.title) << " noenhanced\n";
  g << "set xlabel " << gnuplot_string(spec.xlabel) << " noenhanced\nset ylabel " << gnuplot_string(spec.ylabel)
    << " noenhanced\n";
  if (spec.logx) g << "set logscale x\n";
  if (spec.logy) g << "set logscale y\n";
  g << "set grid\nset key below maxrows 4 noenhanced\n";
  std::vector<double> xs;
  for (const auto& s : spec.series) xs.insert(xs.end(), s.x.begin(), s.x.end());
  const std::string xrange = padded_xrange(xs, spec.logx);
  if (!xrange.empty()) g << xrange << "\n";
  if (!spec.extra.empty()) g << spec.extra << "\n";
  g << "datafile = " << gnuplot_string(dat.filename().string()) << "\n";
  g << "plot ";
  for (size_t i = 0; i < spec.series.size(); ++i) {
    const auto& s = spec.series[i];
    if (i) g << ", \\\n     ";
    const bool bars = s.has_bars();
    const std::string style = s.style.empty() ? (bars ? "yerrorlines" : "linespoints") : s.style;
    const std::string columns = !s.lo.empty() ? "1:2:3:4" : !s.err.empty() ? "1:2:3" : "1:2";
    g << "datafile index " << i << " using " << columns << " with " << style
      << (s.title.empty() ? std::string(" notitle") : " title " + gnuplot_string(s.title));
  }
  draw_gnuplot(stem, g.str(), 900, 700);
}

}  // namespace tttlab
