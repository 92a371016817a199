#include "tttlab/report/gnuplot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"

namespace tttlab {

namespace fs = std::filesystem;

namespace {

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// One image: the script run in its folder with the terminal and output set on the command line.
void draw_one(const fs::path& script, const std::string& terminal, const fs::path& output) {
  const fs::path tmp = output.string() + ".tmp";
  const std::string cmd =
      fmt::format("cd {} && gnuplot -e {} {} >/dev/null 2>&1", shell_quoted(script.parent_path().string()),
                  shell_quoted(fmt::format("set terminal {}; set output {}", terminal, gnuplot_string(tmp.string()))),
                  shell_quoted(script.filename().string()));
  if (std::system(cmd.c_str()) != 0 || !fs::exists(tmp)) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw std::runtime_error(fmt::format("gnuplot could not draw {} (is gnuplot-nox installed?)", output.string()));
  }
  fs::rename(tmp, output);
}

}  // namespace

bool have_gnuplot() { return std::system("gnuplot --version >/dev/null 2>&1") == 0; }

std::string gnuplot_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string padded_xrange(const std::vector<double>& xs, bool log_x, double fraction) {
  double lo = INFINITY, hi = -INFINITY;
  for (const double x : xs) {
    if (!std::isfinite(x) || (log_x && x <= 0)) continue;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  if (lo > hi) return "";
  double a = 0, b = 0;
  if (log_x) {
    const double decades = std::log10(hi / lo);
    const double factor = decades > 0 ? std::pow(10.0, fraction * decades) : 2.0;
    a = lo / factor, b = hi * factor;
  } else {
    const double span = hi - lo;
    const double pad = span > 0 ? fraction * span : (lo != 0 ? 0.5 * std::abs(lo) : 1.0);
    a = lo - pad, b = hi + pad;
  }
  return fmt::format("set xrange [{:.8g}:{:.8g}]", a, b);
}

void draw_gnuplot(const fs::path& stem, const std::string& script, int width, int height) {
  const fs::path gp = fs::absolute(stem.string() + ".gp");
  write_text_atomically(gp,
                        fmt::format("# {}: drawn by tttlab; `gnuplot {}` redraws it (set terminal/output first)\n{}\n",
                                    stem.filename().string(), gp.filename().string(), script));
  const std::string size = fmt::format("size {},{} enhanced font 'Sans,11'", width, height);
  draw_one(gp, "pngcairo " + size, fs::absolute(stem.string() + ".png"));
  draw_one(gp, "svg " + size, fs::absolute(stem.string() + ".svg"));
}

bool render_gnuplot(const fs::path& stem, const std::string& script, int width, int height) {
  try {
    draw_gnuplot(stem, script, width, height);
    return true;
  } catch (const std::runtime_error& e) {
    fmt::print(stderr, "warning: {}\n", e.what());
    return false;
  }
}

}  // namespace tttlab
