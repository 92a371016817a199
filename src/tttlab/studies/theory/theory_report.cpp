#include "tttlab/studies/theory/theory_report.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/report/line_plot.hpp"

namespace fs = std::filesystem;

namespace tttlab {

void prepare_output_dir(const fs::path& dir) {
  require_input(!dir.empty(), "--out is required (the folder for results.json and the plots)");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_input_error("{}: cannot create the directory: {}", dir.string(), ec.message());
  fs::remove(dir / "results.json", ec);  // a stale results.json must not outlive a failed run
}

void finish_theory_outputs(const fs::path& dir, nlohmann::json results) {
  results["version"] = version_line();
  results["machine"] = machine_facts();
  write_text_atomically(dir / "results.json", results.dump(2) + "\n");
}

void write_prop8_outputs(const fs::path& dir, const Prop8Config& cfg, const std::vector<Prop8Point>& points,
                         bool plots) {
  prepare_output_dir(dir);
  nlohmann::json results = prop8_json(cfg, points);
  results["plots"] = nlohmann::json::array();
  if (plots) {
    PlotSpec spec;
    spec.title =
        fmt::format("Proposition 8: global least-squares error, mean of {} draws of P (bars: 1 s.e.)", cfg.draws);
    spec.xlabel = "d2 / d1";
    spec.ylabel = "E[(y - <Psi(x), v_global>)^2]";
    spec.logx = true;
    spec.extra = "set yrange [-0.02:1.05]";
    std::map<int64_t, PlotSeries> by_d1;
    PlotSeries closed = styled_series("closed form 1 - d2/d1", "lines lw 2 dt 2 lc rgb 'black'");
    for (const auto& p : points) {
      auto& s = by_d1[p.d1];
      s.title = fmt::format("d1 = {} (measured)", p.d1);
      const double r = static_cast<double>(p.d2) / static_cast<double>(p.d1);
      s.x.push_back(r), s.y.push_back(p.mean), s.err.push_back(p.std_error);
    }
    // The closed form over the grid's range of d2/d1 (log-spaced), so it neither runs past the
    // measured points nor stops short of them.
    double r_min = INFINITY, r_max = 0;
    for (const auto& [d1, s] : by_d1) {
      for (const double r : s.x) r_min = std::min(r_min, r), r_max = std::max(r_max, r);
    }
    const int segments = 64;
    for (int i = 0; i <= segments && r_min <= r_max; ++i) {
      const double r = i == segments ? r_max : r_min * std::pow(r_max / r_min, static_cast<double>(i) / segments);
      closed.x.push_back(r), closed.y.push_back(1 - r);
    }
    for (auto& [d1, s] : by_d1) spec.series.push_back(s);
    spec.series.push_back(closed);
    write_plot(dir / "prop8", spec);
    results["plots"].push_back("prop8.png");
    results["plots"].push_back("prop8.svg");
  }
  finish_theory_outputs(dir, results);
}

void write_rate_outputs(const fs::path& dir, const RateConfig& cfg, const RateResult& result, bool plots) {
  prepare_output_dir(dir);
  nlohmann::json results = rate_json(cfg, result);
  results["plots"] = nlohmann::json::array();
  const std::map<std::string, std::string> titles{{"min_norm", "TTT: min-norm local LS"},
                                                  {"lasso", "TTT: sparse (Lasso, eq. 6)"},
                                                  {"lasso_refit", "TTT: sparse (Lasso + LS refit)"},
                                                  {"iht", "TTT: sparse (IHT, s' = topic size)"},
                                                  {"global", "global LS head"},
                                                  {"average", "neighbour averaging"}};
  auto fit_for = [&](const std::string& sweep, const std::string& method) -> const RateFit* {
    for (const auto& f : result.fits)
      if (f.sweep == sweep && f.method == method) return &f;
    return nullptr;
  };
  if (plots) {
    for (const auto& sweep : cfg.sweeps) {
      PlotSpec spec;
      const auto& b = cfg.base;
      const std::string topic = b.in_topic < 1 ? fmt::format(", in_topic={}", b.in_topic) : std::string();
      const std::string where = fmt::format("d1={}, d2={}, s={}, sigma={}{}", b.d1, b.d2, b.s, b.noise, topic);
      if (sweep == "k") spec.title = fmt::format("Error vs neighbourhood size k ({})", where), spec.xlabel = "k";
      if (sweep == "s")
        spec.title = fmt::format("Error vs active concepts s (topic size 2s, k={}, d1={}, sigma={}{})", cfg.k_fixed,
                                 b.d1, b.noise, topic);
      if (sweep == "d1")
        spec.title =
            fmt::format("Error vs concepts d1 (k={}, d2={}, s={}, sigma={}{})", cfg.k_fixed, b.d2, b.s, b.noise, topic);
      if (sweep == "sigma")
        spec.title = fmt::format("Error vs noise sigma (k={}, d1={}, s={}{})", cfg.k_fixed, b.d1, b.s, topic);
      if (sweep != "k") spec.xlabel = sweep;
      spec.ylabel = "mean (f(x*) - prediction)^2";
      spec.logx = spec.logy = true;
      for (const auto& method : rate_methods()) {
        PlotSeries s;
        const RateFit* f = fit_for(sweep, method);
        s.title = titles.at(method);
        if (f)
          s.title += sweep == "d1" ? fmt::format(" (d err/d log d1 = {:.3g})", f->slope)
                                   : fmt::format(" (slope {:.2f})", f->slope);
        for (const auto& r : result.rows) {
          if (r.sweep != sweep) continue;
          const double x = sweep == "k" ? r.k : sweep == "s" ? r.world.s : sweep == "d1" ? r.world.d1 : r.world.noise;
          s.x.push_back(x), s.y.push_back(r.errors.at(method).mean), s.err.push_back(r.errors.at(method).std_error);
        }
        spec.series.push_back(s);
      }
      if (sweep == "k") {
        // The σ²·m/k line of least squares in m = topic_size dimensions, for reference.
        PlotSeries ref = styled_series("sigma^2 (2s)/k", "lines dt 2 lc rgb 'black'");
        const double m = static_cast<double>(cfg.base.effective_topic_size());
        for (const int64_t k : cfg.ks) ref.x.push_back(k), ref.y.push_back(cfg.base.noise * cfg.base.noise * m / k);
        spec.series.push_back(ref);
      }
      const std::string stem = "rate_" + sweep;
      write_plot(dir / stem, spec);
      results["plots"].push_back(stem + ".png");
      results["plots"].push_back(stem + ".svg");
    }
  }
  finish_theory_outputs(dir, results);
}

}  // namespace tttlab
