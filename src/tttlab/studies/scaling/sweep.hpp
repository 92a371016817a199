#pragma once
// A resumable sweep: a list of configurations (points), each computed by a function that returns a
// JSON result. Every result is saved atomically as <dir>/runs/<id>.json the moment it completes;
// a rerun with the same settings skips the points whose file exists, so killing the process loses
// at most the configuration that was running. The settings shared by all points are stored in
// <dir>/sweep_settings.json; a rerun with other settings into the same folder is refused (their
// results would not be comparable) instead of being silently mixed.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tttlab {

struct SweepPoint {
  std::string id;         // file name of its result (letters, digits, '=', '.', ',', '_', '-')
  nlohmann::json params;  // what varies, e.g. {"k": 50, "seed": 0}
};

struct SweepRun {
  SweepPoint point;
  nlohmann::json result;
  bool reused = false;  // loaded from an earlier run rather than computed now
};

class SweepStore {
 public:
  // Creates <dir>/runs if needed; writes `settings` to <dir>/sweep_settings.json, or, when that
  // file exists, checks that it holds the same settings (InputError naming the first difference).
  SweepStore(std::filesystem::path dir, const nlohmann::json& settings);

  // The saved result of `point`, if any. InputError when the file is not valid JSON or was made for
  // other params (a hand-edited or foreign file: the message says to delete it).
  std::optional<nlohmann::json> load(const SweepPoint& point) const;
  void save(const SweepPoint& point, const nlohmann::json& result) const;  // atomically

  std::filesystem::path run_file(const SweepPoint& point) const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// Runs every point in order (skipping the saved ones) and returns all results in the points' order.
// Point ids must be unique and file-safe (InputError otherwise). Shows a progress bar.
std::vector<SweepRun> run_sweep(const SweepStore& store, const std::vector<SweepPoint>& points,
                                const std::function<nlohmann::json(const SweepPoint&)>& compute,
                                const std::string& label);

// The first key (dotted path) where two JSON values differ, or "" when equal.
std::string first_json_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& path = "");

}  // namespace tttlab
