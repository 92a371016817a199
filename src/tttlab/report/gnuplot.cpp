#include "tttlab/report/gnuplot.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"

namespace tttlab {

namespace fs = std::filesystem;

namespace {

std::string quoted(const fs::path& p) {  // a single-quoted gnuplot string
  std::string s;
  for (char ch : p.string()) {
    if (ch == '\'') s += "''";
    else s += ch;
  }
  return "'" + s + "'";
}

std::string shell_quoted(const fs::path& p) {
  std::string s = "'";
  for (char ch : p.string()) {
    if (ch == '\'') s += "'\\''";
    else s += ch;
  }
  return s + "'";
}

}  // namespace

bool have_gnuplot() { return std::system("gnuplot --version >/dev/null 2>&1") == 0; }

bool render_gnuplot(const fs::path& stem, const std::string& body, int width, int height) {
  fs::path png = stem, svg = stem, script = stem;
  png += ".png";
  svg += ".svg";
  script += ".gp";
  const std::string text = fmt::format(
      "set terminal pngcairo size {},{} enhanced font 'Sans,11'\nset output {}\n{}\nunset output\n"
      "set terminal svg size {},{} enhanced font 'Sans,11'\nset output {}\n{}\nunset output\n",
      width, height, quoted(png), body, width, height, quoted(svg), body);
  write_text_atomically(script, text);
  const std::string cmd = "gnuplot " + shell_quoted(script) + " > /dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  const bool ok = status == 0 && fs::exists(png) && fs::exists(svg);
  if (!ok) fmt::print(stderr, "warning: gnuplot could not draw {} (is gnuplot-nox installed?)\n", script.string());
  return ok;
}

}  // namespace tttlab
