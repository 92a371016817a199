#include "tttlab/studies/scaling/sweep_table.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/eval/metrics.hpp"

namespace tttlab {

using nlohmann::json;

json metrics_json(const std::vector<std::pair<std::string, torch::Tensor>>& columns, int resamples, uint64_t seed) {
  std::vector<torch::Tensor> cols;
  for (const auto& [name, c] : columns) cols.push_back(c);
  const auto resampled = resampled_means(cols, resamples, seed);
  json j = json::object();
  for (size_t i = 0; i < columns.size(); ++i) {
    j[columns[i].first] = {{"value", tttlab::mean(cols[i])}, {"resampled", resampled[i]}};
  }
  return j;
}

std::vector<SweepRow> aggregate_sweep(const std::vector<SweepRun>& runs, double level) {
  struct Group {
    json x;
    std::vector<std::string> metrics;  // in the first run's order
    std::map<std::string, std::pair<std::vector<double>, std::vector<std::vector<double>>>> values;
  };
  std::vector<Group> groups;
  for (const auto& run : runs) {
    json x = run.point.params;
    x.erase("seed");
    const json& r = run.result;
    require_input(r.contains("metrics") && r["metrics"].is_object(), "sweep result '{}': no \"metrics\" object",
                  run.point.id);
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.x == x; });
    if (it == groups.end()) {
      groups.push_back({x, {}, {}});
      it = groups.end() - 1;
      for (auto m = r["metrics"].begin(); m != r["metrics"].end(); ++m) it->metrics.push_back(m.key());
    }
    for (const auto& name : it->metrics) {
      require_input(r["metrics"].contains(name), "sweep result '{}': metric '{}' is missing", run.point.id, name);
      const json& m = r["metrics"][name];
      require_input(
          m.contains("value") && m["value"].is_number() && m.contains("resampled") && m["resampled"].is_array(),
          "sweep result '{}': metric '{}' needs a number \"value\" and an array \"resampled\"", run.point.id, name);
      auto& [vals, res] = it->values[name];
      vals.push_back(m["value"].get<double>());
      res.push_back(m["resampled"].get<std::vector<double>>());
    }
  }
  std::vector<SweepRow> rows;
  for (const auto& g : groups) {
    for (const auto& name : g.metrics) {
      const auto& [vals, res] = g.values.at(name);
      rows.push_back({g.x, name, estimate_across_seeds(vals, res, level)});
    }
  }
  return rows;
}

namespace {

std::string csv_cell(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

std::string sweep_rows_csv(const std::vector<SweepRow>& rows) {
  std::vector<std::string> keys;
  if (!rows.empty()) {
    for (auto it = rows.front().x.begin(); it != rows.front().x.end(); ++it) keys.push_back(it.key());
  }
  std::string out;
  for (const auto& k : keys) out += k + ",";
  out += "metric,value,ci_lo,ci_hi,seeds\n";
  for (const auto& r : rows) {
    for (const auto& k : keys) out += (r.x.contains(k) ? csv_cell(r.x[k]) : std::string()) + ",";
    out += fmt::format("\"{}\",{:.6f},{:.6f},{:.6f},{}\n", r.metric, r.estimate.mean, r.estimate.ci.lo,
                       r.estimate.ci.hi, r.estimate.seeds);
  }
  return out;
}

json sweep_rows_json(const std::vector<SweepRow>& rows, double level) {
  json arr = json::array();
  for (const auto& r : rows) {
    arr.push_back({{"x", r.x},
                   {"metric", r.metric},
                   {"value", r.estimate.mean},
                   {fmt::format("ci{}", static_cast<int>(level * 100 + 0.5)), {r.estimate.ci.lo, r.estimate.ci.hi}},
                   {"seeds", r.estimate.seeds}});
  }
  return arr;
}

void write_sweep_tables(const std::filesystem::path& dir, const std::string& name, const std::vector<SweepRow>& rows,
                        const json& settings, double level) {
  write_text_atomically(dir / (name + ".csv"), sweep_rows_csv(rows));
  const json j = {{"settings", settings}, {"level", level}, {"rows", sweep_rows_json(rows, level)}};
  write_text_atomically(dir / (name + ".json"), j.dump(2) + "\n");
}

}  // namespace tttlab
