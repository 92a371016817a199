#include "tttlab/studies/scaling/plot.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"

namespace tttlab {

namespace fs = std::filesystem;

void plot_sweep(const fs::path& prefix, const std::vector<SweepRow>& rows, const SweepPlotSpec& spec) {
  // x -> metric -> row
  std::map<double, std::map<std::string, const SweepRow*>> table;
  for (const auto& r : rows) {
    if (!r.x.contains(spec.x_key) || !r.x[spec.x_key].is_number()) continue;
    if (std::find(spec.metrics.begin(), spec.metrics.end(), r.metric) == spec.metrics.end()) continue;
    table[r.x[spec.x_key].get<double>()][r.metric] = &r;
  }
  require_input(!table.empty(), "plot: no rows with a numeric '{}' and one of the metrics", spec.x_key);
  std::string dat = "# " + spec.x_key;
  for (const auto& m : spec.metrics) dat += fmt::format(" | {}: error% lo% hi%", m);
  dat += "\n";
  for (const auto& [x, by_metric] : table) {
    dat += fmt::format("{}", x);
    for (const auto& m : spec.metrics) {
      auto it = by_metric.find(m);
      if (it == by_metric.end()) {
        dat += " NaN NaN NaN";
      } else {
        const auto& e = it->second->estimate;  // error = 1 - accuracy: the CI's ends swap
        dat += fmt::format(" {:.4f} {:.4f} {:.4f}", 100 * (1 - e.mean), 100 * (1 - e.ci.hi), 100 * (1 - e.ci.lo));
      }
    }
    dat += "\n";
  }
  const fs::path dat_file = fs::path(prefix.string() + ".dat");
  write_text_atomically(dat_file, dat);

  std::string plot = "plot ";
  const char* colors[] = {"black", "gray50", "red", "blue", "dark-green", "orange", "purple"};
  for (size_t i = 0; i < spec.metrics.size(); ++i) {
    const size_t col = 2 + 3 * i;
    plot += fmt::format("{}{} using 1:{}:{}:{} with yerrorlines lw 2 pt 7 lc rgb {} title {}", i ? ", \\\n     " : "",
                        gnuplot_string(dat_file.filename().string()), col, col + 1, col + 2,
                        gnuplot_string(colors[i % 7]), gnuplot_string(spec.metrics[i]));
  }
  std::vector<double> xs;
  for (const auto& [x, by_metric] : table) xs.push_back(x);
  const std::string xrange = padded_xrange(xs, spec.log_x);
  draw_gnuplot(prefix,
               fmt::format("set title {} noenhanced\nset xlabel {} noenhanced\nset ylabel 'classification error (%)'\n"
                           "{}{}set key top right noenhanced\nset grid\nset datafile missing 'NaN'\n{}",
                           gnuplot_string(spec.title), gnuplot_string(spec.x_label),
                           spec.log_x ? "set logscale x\n" : "", xrange.empty() ? "" : xrange + "\n", plot),
               800, 560);
}

}  // namespace tttlab
