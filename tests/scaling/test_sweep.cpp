// The resumable sweep: results saved per configuration, skipped on a rerun, a crash losing only the
// configuration that was running, and refusals of mixed settings and damaged files.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <stdexcept>

#include "test_support.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/studies/scaling/sweep.hpp"

using namespace tttlab;
using nlohmann::json;
using tttlab::test::expect_input_error;
using tttlab::test::TempDir;

namespace {

std::vector<SweepPoint> three_points() {
  return {{"k=1,seed=0", {{"k", 1}, {"seed", 0}}},
          {"k=2,seed=0", {{"k", 2}, {"seed", 0}}},
          {"k=3,seed=0", {{"k", 3}, {"seed", 0}}}};
}

const bool kQuiet = (tttlab::set_progress_enabled(false), true);

const json kSettings = {{"data", "x"}, {"ttt", {{"lr", 0.1}}}};

}  // namespace

TEST(Sweep, SavesEachResultAndSkipsThemOnARerun) {
  TempDir dir;
  int calls = 0;
  auto compute = [&](const SweepPoint& p) {
    ++calls;
    return json{{"square", p.params["k"].get<int>() * p.params["k"].get<int>()}};
  };
  {
    const SweepStore store(dir.path(), kSettings);
    const auto runs = run_sweep(store, three_points(), compute, "test");
    EXPECT_EQ(calls, 3);
    ASSERT_EQ(runs.size(), 3u);
    EXPECT_EQ(runs[2].result["square"], 9);
    EXPECT_FALSE(runs[0].reused);
    for (const auto& p : three_points()) EXPECT_TRUE(std::filesystem::exists(store.run_file(p)));
    EXPECT_TRUE(std::filesystem::exists(dir / "sweep_settings.json"));
  }
  {
    const SweepStore store(dir.path(), kSettings);
    const auto runs = run_sweep(store, three_points(), compute, "test");
    EXPECT_EQ(calls, 3) << "a rerun recomputed finished configurations";
    EXPECT_TRUE(runs[1].reused);
    EXPECT_EQ(runs[1].result["square"], 4);
    // a longer grid computes only the new point
    auto more = three_points();
    more.push_back({"k=4,seed=0", {{"k", 4}, {"seed", 0}}});
    const auto runs2 = run_sweep(store, more, compute, "test");
    EXPECT_EQ(calls, 4);
    EXPECT_EQ(runs2[3].result["square"], 16);
  }
}

TEST(Sweep, ARerunSaysHowManyConfigurationsItSkips) {
  TempDir dir;
  const SweepStore store(dir.path(), kSettings);
  auto compute = [](const SweepPoint& p) { return json{{"k", p.params["k"]}}; };
  auto points = three_points();
  points.resize(2);
  testing::internal::CaptureStdout();
  run_sweep(store, points, compute, "test");
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "") << "a fresh sweep has nothing to skip";
  points = three_points();
  for (int k = 4; k <= 6; ++k) points.push_back({"k=" + std::to_string(k) + ",seed=0", {{"k", k}, {"seed", 0}}});
  testing::internal::CaptureStdout();
  run_sweep(store, points, compute, "test");
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("test: 2 of 6 configurations done, skipping them"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

TEST(Sweep, ACrashLosesOnlyTheRunningConfiguration) {
  TempDir dir;
  const SweepStore store(dir.path(), kSettings);
  int calls = 0;
  auto crash_on_third = [&](const SweepPoint& p) {
    ++calls;
    if (p.params["k"] == 3) throw std::runtime_error("killed");
    return json{{"k", p.params["k"]}};
  };
  EXPECT_THROW(run_sweep(store, three_points(), crash_on_third, "test"), std::runtime_error);
  EXPECT_TRUE(std::filesystem::exists(store.run_file(three_points()[1])));
  EXPECT_FALSE(std::filesystem::exists(store.run_file(three_points()[2])));
  // no temporary files left in runs/
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "runs")) files += e.is_regular_file();
  EXPECT_EQ(files, 2);
  calls = 0;
  const auto runs = run_sweep(
      store, three_points(),
      [&](const SweepPoint& p) {
        ++calls;
        return json{{"k", p.params["k"]}};
      },
      "test");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(runs[2].result["k"], 3);
}

TEST(Sweep, RefusesOtherSettingsInTheSameFolder) {
  TempDir dir;
  { const SweepStore store(dir.path(), kSettings); }
  json other = kSettings;
  other["ttt"]["lr"] = 0.2;
  expect_input_error([&] { SweepStore store(dir.path(), other); }, "first difference: ttt.lr");
  json extra = kSettings;
  extra["k"] = 5;
  expect_input_error([&] { SweepStore store(dir.path(), extra); }, "first difference: k");
}

TEST(Sweep, RefusesDamagedOrForeignRunFiles) {
  TempDir dir;
  const SweepStore store(dir.path(), kSettings);
  const auto points = three_points();
  tttlab::test::write_bytes(store.run_file(points[0]), "{\"params\": {\"k\": 1, ");
  expect_input_error([&] { store.load(points[0]); }, "not valid JSON");
  tttlab::test::write_bytes(store.run_file(points[0]), R"({"params": {"k": 7, "seed": 0}, "result": {}})");
  expect_input_error([&] { store.load(points[0]); }, "first difference: k");
  tttlab::test::write_bytes(store.run_file(points[0]), R"({"params": {"k": 1, "seed": 0}})");
  expect_input_error([&] { store.load(points[0]); }, "\"result\"");
  tttlab::test::write_bytes(dir / "sweep_settings.json", "not json");
  expect_input_error([&] { SweepStore again(dir.path(), kSettings); }, "not valid JSON");
}

TEST(Sweep, RefusesBadPointIds) {
  TempDir dir;
  const SweepStore store(dir.path(), kSettings);
  auto compute = [](const SweepPoint&) { return json::object(); };
  expect_input_error([&] { run_sweep(store, {{"a/b", {}}}, compute, "t"); }, "not a safe file name");
  expect_input_error([&] { run_sweep(store, {{"", {}}}, compute, "t"); }, "not a safe file name");
  expect_input_error([&] { run_sweep(store, {{"a", {}}, {"a", {}}}, compute, "t"); }, "appears twice");
}

TEST(Sweep, FirstJsonDifference) {
  EXPECT_EQ(first_json_difference(json{{"a", 1}}, json{{"a", 1}}), "");
  EXPECT_EQ(first_json_difference(json{{"a", {{"b", 1}}}}, json{{"a", {{"b", 2}}}}), "a.b");
  EXPECT_EQ(first_json_difference(json{{"a", {1, 2}}}, json{{"a", {1, 3}}}), "a[1]");
  EXPECT_EQ(first_json_difference(json{{"a", 1}}, json{{"a", "1"}}), "a");
}

TEST(Sweep, NumbersReadBackFromAFileEqualTheirValues) {
  EXPECT_EQ(first_json_difference(json::parse("{\"n\": 200, \"x\": 0.9}"), json{{"n", 200}, {"x", 0.9}}), "");
  EXPECT_EQ(first_json_difference(json::parse("{\"n\": 200}"), json{{"n", 201}}), "n");
}
