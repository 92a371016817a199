#include "tttlab/studies/theory/classification_worlds.hpp"

#include <chrono>

#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/report/line_plot.hpp"
#include "tttlab/studies/theory/theory_report.hpp"

namespace tttlab {

LrhWorldSpec ClassifyConfig::default_base() {
  LrhWorldSpec w;
  w.d1 = 2048, w.s = 8, w.classes = 10, w.topic_size = 0, w.in_topic = 1.0, w.noise = 0.1;
  w.train = 20000, w.test = 1000, w.seed = 0;
  return w;
}

StudyConfig ClassifyConfig::default_study() {
  StudyConfig s;
  s.ttt.k = 50;
  s.ttt.steps = 100;
  s.ttt.lr = 0.02;
  s.majority_k = 0;  // the TTT k
  s.bootstrap.resamples = 1000;
  return s;
}

void ClassifyConfig::validate() const {
  require_input(base.classes >= 2, "classify: the base world needs classes >= 2");
  require_input(!d2s.empty(), "classify: no d2 values");
  for (const int64_t d2 : d2s) {
    LrhWorldSpec w = base;
    w.d2 = d2;
    w.validate();
  }
  study.ttt.validate();
}

std::vector<ClassifyRow> run_classification_worlds(const ClassifyConfig& cfg) {
  cfg.validate();
  std::vector<ClassifyRow> rows;
  for (const int64_t d2 : cfg.d2s) {
    const auto start = std::chrono::steady_clock::now();
    ClassifyRow row;
    row.world = cfg.base;
    row.world.d2 = d2;
    StudyConfig study = cfg.study;
    study.data = row.world.to_string();
    study.bootstrap.seed = study.seed;
    fmt::print(stderr, "classify: {}\n", study.data);
    const StudyResult result = run_study(study);
    row.summary = summarize(result.methods, result.test_labels, study.bootstrap);
    // The oracle: the world's noiseless label rule (the same test set: the world is deterministic).
    const LrhWorld world = make_lrh_world(row.world);
    row.oracle_accuracy = world.test.clean.argmax(1).eq(world.test.target).to(torch::kDouble).mean().item<double>();
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rows.push_back(std::move(row));
  }
  return rows;
}

nlohmann::json classify_json(const ClassifyConfig& cfg, const std::vector<ClassifyRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json methods, comparisons;
    for (const auto& m : r.summary.methods)
      methods[m.name] = {{"accuracy", m.accuracy},
                         {"ci90", {m.ci.lo, m.ci.hi}},
                         {"mean_ce", m.mean_ce ? nlohmann::json(*m.mean_ce) : nlohmann::json(nullptr)},
                         {"n", m.n}};
    for (const auto& c : r.summary.comparisons)
      comparisons[c.name] = {{"accuracy_diff", c.accuracy_diff}, {"ci90", {c.ci.lo, c.ci.hi}}};
    out.push_back({{"world", r.world.to_string()},
                   {"d1", r.world.d1},
                   {"d2", r.world.d2},
                   {"ratio", static_cast<double>(r.world.d2) / static_cast<double>(r.world.d1)},
                   {"methods", methods},
                   {"comparisons", comparisons},
                   {"oracle_accuracy", r.oracle_accuracy},
                   {"seconds", r.seconds}});
  }
  const auto& t = cfg.study.ttt;
  return {{"experiment", "classify"},
          {"claim",
           "TTT's gain over the global head grows as the features become more underparameterised "
           "(Takeaway 1)"},
          {"config",
           {{"base", cfg.base.to_string()},
            {"d2s", cfg.d2s},
            {"k", t.k},
            {"steps", t.steps},
            {"lr", t.lr},
            {"majority_k", cfg.study.effective_majority_k()},
            {"head_epochs", cfg.study.head_train.epochs},
            {"head_lr", cfg.study.head_train.lr},
            {"head_batch_size", cfg.study.head_train.batch_size},
            {"bootstrap", cfg.study.bootstrap.resamples},
            {"seed", cfg.study.seed}}},
          {"rows", out}};
}

void write_classify_outputs(const std::filesystem::path& dir, const ClassifyConfig& cfg,
                            const std::vector<ClassifyRow>& rows, bool plots) {
  prepare_output_dir(dir);
  nlohmann::json results = classify_json(cfg, rows);
  results["plots"] = nlohmann::json::array();
  if (plots) {
    auto ratio = [](const ClassifyRow& r) { return static_cast<double>(r.world.d2) / static_cast<double>(r.world.d1); };
    PlotSpec acc;
    acc.title = fmt::format("Classification worlds: d1={}, s={}, {} classes (bars: 90% bootstrap CI)", cfg.base.d1,
                            cfg.base.s, cfg.base.classes);
    acc.xlabel = "d2 / d1";
    acc.ylabel = "test accuracy";
    acc.logx = true;
    for (const std::string name : {"global", "ttt", "majority"}) {
      PlotSeries s;
      s.title = name == "ttt" ? "TTT" : name == "global" ? "global head" : "majority vote";
      s.style = "yerrorlines";
      for (const auto& r : rows)
        for (const auto& m : r.summary.methods)
          if (m.name == name) {
            s.x.push_back(ratio(r)), s.y.push_back(m.accuracy);
            s.lo.push_back(m.ci.lo), s.hi.push_back(m.ci.hi);
          }
      acc.series.push_back(s);
    }
    PlotSeries oracle = styled_series("noiseless label rule (oracle)", "lines dt 2 lc rgb 'black'");
    for (const auto& r : rows) oracle.x.push_back(ratio(r)), oracle.y.push_back(r.oracle_accuracy);
    acc.series.push_back(oracle);
    write_plot(dir / "classify_accuracy", acc);

    PlotSpec gain;
    gain.title = "TTT - global head, accuracy (paired bootstrap 90% CI)";
    gain.xlabel = "d2 / d1";
    gain.ylabel = "accuracy difference";
    gain.logx = true;
    PlotSeries g = styled_series("TTT - global", "yerrorbars");
    PlotSeries line = styled_series("", "lines lc rgb 'dark-red'");
    for (const auto& r : rows)
      for (const auto& c : r.summary.comparisons)
        if (c.name == "ttt - global") {
          g.x.push_back(ratio(r)), g.y.push_back(c.accuracy_diff), g.lo.push_back(c.ci.lo), g.hi.push_back(c.ci.hi);
          line.x.push_back(ratio(r)), line.y.push_back(c.accuracy_diff);
        }
    gain.series.push_back(g);
    gain.series.push_back(line);
    gain.extra = "set xzeroaxis lt -1";
    write_plot(dir / "classify_gain", gain);
    for (const char* f : {"classify_accuracy.png", "classify_accuracy.svg", "classify_gain.png", "classify_gain.svg"})
      results["plots"].push_back(f);
  }
  finish_theory_outputs(dir, results);
}

}  // namespace tttlab
