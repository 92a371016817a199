#include "tttlab/studies/scaling/sweep.hpp"

#include <cstdio>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"

namespace tttlab {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  require_input(static_cast<bool>(in), "{}: cannot open", path.string());
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  require_input(!j.is_discarded(), "{}: not valid JSON (delete it to recompute this configuration)", path.string());
  return j;
}

bool file_safe(const std::string& id) {
  if (id.empty() || id.front() == '.') return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '=' ||
                    c == '.' || c == ',' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string first_json_difference(const json& a, const json& b, const std::string& path) {
  const std::string here = path.empty() ? "(top level)" : path;
  // 200 read back from a file is an unsigned number, 200 in memory a signed one: compare by value.
  if (a.is_number() && b.is_number()) return a == b ? "" : here;
  if (a.type() != b.type()) return here;
  if (a.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const auto& k : keys) {
      const std::string sub = path.empty() ? k : path + "." + k;
      if (!a.contains(k) || !b.contains(k)) return sub;
      if (auto d = first_json_difference(a[k], b[k], sub); !d.empty()) return d;
    }
    return "";
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return here;
    for (size_t i = 0; i < a.size(); ++i) {
      if (auto d = first_json_difference(a[i], b[i], fmt::format("{}[{}]", path, i)); !d.empty()) return d;
    }
    return "";
  }
  return a == b ? "" : here;
}

SweepStore::SweepStore(fs::path dir, const json& settings) : dir_(std::move(dir)) {
  require_input(!dir_.empty(), "--out is required (the sweep's folder)");
  std::error_code ec;
  fs::create_directories(dir_ / "runs", ec);
  require_input(!ec, "{}: cannot create the folder ({})", (dir_ / "runs").string(), ec.message());
  const fs::path settings_file = dir_ / "sweep_settings.json";
  if (fs::exists(settings_file)) {
    const json saved = read_json_file(settings_file);
    const std::string diff = first_json_difference(saved, settings);
    require_input(diff.empty(),
                  "{}: this folder holds a sweep with other settings (first difference: {}); use another "
                  "--out, or delete the folder to start over",
                  settings_file.string(), diff);
  } else {
    write_text_atomically(settings_file, settings.dump(2) + "\n");
  }
}

fs::path SweepStore::run_file(const SweepPoint& point) const { return dir_ / "runs" / (point.id + ".json"); }

std::optional<json> SweepStore::load(const SweepPoint& point) const {
  const fs::path f = run_file(point);
  if (!fs::exists(f)) return std::nullopt;
  const json j = read_json_file(f);
  require_input(j.is_object() && j.contains("params") && j.contains("result") && j["result"].is_object(),
                "{}: expected an object with \"params\" and \"result\" (delete it to recompute)", f.string());
  const std::string diff = first_json_difference(j["params"], point.params);
  require_input(diff.empty(), "{}: saved for other params (first difference: {}); delete it to recompute", f.string(),
                diff);
  return j["result"];
}

void SweepStore::save(const SweepPoint& point, const json& result) const {
  const json j = {{"id", point.id}, {"params", point.params}, {"result", result}};
  write_text_atomically(run_file(point), j.dump() + "\n");
}

std::vector<SweepRun> run_sweep(const SweepStore& store, const std::vector<SweepPoint>& points,
                                const std::function<json(const SweepPoint&)>& compute, const std::string& label) {
  std::set<std::string> ids;
  for (const auto& p : points) {
    require_input(file_safe(p.id), "sweep: configuration id '{}' is not a safe file name", p.id);
    require_input(ids.insert(p.id).second, "sweep: configuration id '{}' appears twice", p.id);
  }
  // Every saved result is read before any work starts, so a damaged file is refused at once and the
  // user learns how much of the sweep an earlier run already did.
  std::vector<std::optional<json>> saved;
  saved.reserve(points.size());
  int64_t done = 0;
  for (const auto& p : points) {
    saved.push_back(store.load(p));
    if (saved.back()) ++done;
  }
  if (done > 0) {
    fmt::print("{}: {} of {} configurations done, skipping them (results in {})\n", label, done, points.size(),
               (store.dir() / "runs").string());
    std::fflush(stdout);
  }
  std::vector<SweepRun> runs;
  runs.reserve(points.size());
  ProgressBar bar(label, static_cast<int64_t>(points.size()), "configs");
  for (size_t i = 0; i < points.size(); ++i) {
    const SweepPoint& p = points[i];
    if (saved[i]) {
      runs.push_back({p, std::move(*saved[i]), true});
    } else {
      json result = compute(p);
      store.save(p, result);
      runs.push_back({p, std::move(result), false});
    }
    bar.advance();
  }
  bar.finish();
  return runs;
}

}  // namespace tttlab
