#include "tttlab/scaling/plot.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"

namespace tttlab {

namespace fs = std::filesystem;

namespace {

std::string quoted_for_shell(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string gnuplot_string(const std::string& s) {  // a double-quoted gnuplot string
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace


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
    plot += fmt::format("{}{} using 1:{}:{}:{} with yerrorlines lw 2 pt 7 lc rgb {} title {}",
                        i ? ", \\\n     " : "", gnuplot_string(dat_file.string()), col, col + 1, col + 2,
                        gnuplot_string(colors[i % 7]), gnuplot_string(spec.metrics[i]));
  }
  std::string gp;
  for (const auto& [term, ext] : {std::pair{"pngcairo size 800,560 font ',11'", ".png"},
                                  std::pair{"svg size 800,560 font 'sans,11'", ".svg"}}) {
    gp += fmt::format("set terminal {}\nset output {}\n", term, gnuplot_string(prefix.string() + ext));
    gp += fmt::format("set title {}\nset xlabel {}\nset ylabel 'classification error (%)'\n",
                      gnuplot_string(spec.title), gnuplot_string(spec.x_label));
    gp += spec.log_x ? "set logscale x\n" : "unset logscale x\n";
    gp += "set key top right\nset grid\nset datafile missing 'NaN'\n" + plot + "\nunset output\n";
  }
  const fs::path gp_file = fs::path(prefix.string() + ".gp");
  write_text_atomically(gp_file, gp);
  if (!have_gnuplot()) throw std::runtime_error("gnuplot not found (install gnuplot-nox); the tables are written");
  const int rc = std::system(("gnuplot " + quoted_for_shell(gp_file.string()) + " 2>&1").c_str());
  if (rc != 0) throw std::runtime_error(fmt::format("gnuplot failed on {} (exit status {})", gp_file.string(), rc));
}

}  // namespace tttlab
