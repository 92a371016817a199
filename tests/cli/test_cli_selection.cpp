// End-to-end: presets (`tttlab presets`, --preset, preset = in TOML), --tune with its [tune] table,
// and the checks that happen before any work (--out, k against the training set).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using tttlab::test::CliRun;

namespace {

class CliSelection : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = root_.path() / "emb";
    tttlab::test::write_xor_blobs(data_, 400, 80);
  }
  CliRun tttlab(const std::string& args) { return tttlab::test::run_tttlab(args, root_.path()); }
  static json results(const fs::path& out) { return json::parse(tttlab::test::read_bytes(out / "results.json")); }

  tttlab::test::TempDir root_;
  fs::path data_;
};

}  // namespace

TEST_F(CliSelection, PresetsListsThePapersProtocols) {
  const CliRun r = tttlab("presets");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* name : {"default", "paper-e2", "paper-table4-tinylenet", "paper-figure5-data", "paper-imagenet-sae",
                           "paper-imagenet-linear", "paper-table7-mlp"}) {
    EXPECT_NE(("\n" + r.out).find(std::string("\n") + name + "\n"), std::string::npos) << name << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("Appendix E.2"), std::string::npos);
  EXPECT_NE(r.out.find("--k 100 --steps 100 --lr 0.1"), std::string::npos) << r.out;
}

TEST_F(CliSelection, PresetThenConfigFileThenFlags) {
  const fs::path out = root_.path() / "a";
  // The preset sets k 100, 100 steps, lr 0.1; the flag overrides k.
  CliRun r = tttlab("run --quiet --data npy:" + data_.string() + " --out " + out.string() +
                    " --preset paper-e2 --k 7 --head-epochs 5 --bootstrap 50");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = results(out);
  EXPECT_EQ(j["config"]["preset"], "paper-e2");
  EXPECT_EQ(j["config"]["ttt"]["k"], 7);
  EXPECT_EQ(j["config"]["ttt"]["steps"], 100);
  EXPECT_DOUBLE_EQ(j["config"]["ttt"]["lr"].get<double>(), 0.1);

  // In TOML: the file's keys override the preset it names; the flag overrides both.
  const fs::path cfg = root_.path() / "c.toml";
  std::ofstream(cfg) << "preset = \"paper-imagenet-linear\"\nk = 20\nsteps = 3\nbootstrap = 50\n";
  r = tttlab("run --quiet --config " + cfg.string() + " --data npy:" + data_.string() + " --out " + out.string() +
             " --head-epochs 4");
  ASSERT_EQ(r.code, 0) << r.err;
  j = results(out);
  EXPECT_EQ(j["config"]["preset"], "paper-imagenet-linear");
  EXPECT_EQ(j["config"]["ttt"]["k"], 20);
  EXPECT_EQ(j["config"]["ttt"]["steps"], 3);
  EXPECT_DOUBLE_EQ(j["config"]["ttt"]["lr"].get<double>(), 0.02);
  EXPECT_EQ(j["config"]["head"]["train"]["batch_size"], 250);  // from the preset
  EXPECT_EQ(j["config"]["head"]["train"]["epochs"], 4);        // from the flag

  r = tttlab("run --quiet --data npy:" + data_.string() + " --out " + out.string() + " --preset paper-e3");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown preset 'paper-e3'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("paper-e2"), std::string::npos) << r.err;
}

TEST_F(CliSelection, UndertrainedHeadWarnsInTheTerminalAndInResults) {
  const fs::path out = root_.path() / "u";
  const CliRun r = tttlab("run --quiet --data npy:" + data_.string() + " --out " + out.string() +
                          " --head-epochs 2 --head-lr 1e-4 --head-patience 0 --k 20 --steps 5 --bootstrap 50");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: the global head did not converge"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("NOT converged"), std::string::npos) << r.out;
  const json j = results(out);
  EXPECT_FALSE(j["training"]["head"]["converged"].get<bool>());
  EXPECT_EQ(j["training"]["head"]["epochs_run"], 2);
  ASSERT_EQ(j["warnings"].size(), 1u);
}

TEST_F(CliSelection, OutIsCheckedBeforeAnyWork) {
  const fs::path file = root_.path() / "taken";
  tttlab::test::write_bytes(file, "x");
  // The data folder does not exist either: the --out check comes first, while parsing.
  for (const fs::path& out : {file, file / "sub"}) {
    const CliRun r = tttlab("run --quiet --data npy:" + (root_.path() / "missing").string() + " --out " + out.string());
    EXPECT_EQ(r.code, 2) << out;
    EXPECT_NE(r.err.find("--out"), std::string::npos) << r.err;
    EXPECT_TRUE(r.err.find("is a file, not a folder") != std::string::npos ||
                r.err.find("is an existing file, not a folder") != std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(tttlab::test::read_bytes(file), "x");
  // The same check on the sweeps: an --out that is a file fails before the sweep folder is made.
  const CliRun s = tttlab("scale k --quiet --data npy:" + data_.string() + " --out " + file.string() + " --ks 5");
  EXPECT_EQ(s.code, 2);
  EXPECT_NE(s.err.find("is an existing file"), std::string::npos) << s.err;
  // A k the training set cannot serve is refused before the first configuration.
  const fs::path sweep = root_.path() / "sweep";
  const CliRun k = tttlab("scale k --quiet --no-plot --data npy:" + data_.string() + " --out " + sweep.string() +
                          " --ks 5,401 --seeds 0");
  EXPECT_EQ(k.code, 2);
  EXPECT_NE(k.err.find("--ks: k=401 is larger than the training set (N=400)"), std::string::npos) << k.err;
  EXPECT_FALSE(fs::exists(sweep / "runs"));
}

TEST_F(CliSelection, TuneRecordsTheSelectionAndTheTomlGrid) {
  // A val split beside train and test.
  tttlab::test::write_xor_blobs(root_.path() / "v", 300, 120);
  fs::copy_file(root_.path() / "v" / "test_features.npy", data_ / "val_features.npy");
  fs::copy_file(root_.path() / "v" / "test_labels.npy", data_ / "val_labels.npy");
  const fs::path cfg = root_.path() / "t.toml";
  std::ofstream(cfg) << "bootstrap = 50\nhead-epochs = 20\n[tune]\nk = [5, 20]\nsteps = [10, 40]\n"
                        "lr = [0.01, 0.1]\nmajority-k = [1, 9]\n";
  const fs::path out = root_.path() / "t";
  const CliRun r = tttlab("run --quiet --config " + cfg.string() + " --data npy:" + data_.string() + " --out " +
                          out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("selection on validation (120 points"), std::string::npos) << r.out;
  const json j = results(out);
  const json& s = j["selection"];
  EXPECT_EQ(s["grid"]["k"], json({5, 20}));
  EXPECT_EQ(s["grid"]["steps"], json({0, 10, 40}));
  EXPECT_EQ(s["ttt"].size(), 2u * 2u * 3u);
  EXPECT_EQ(s["majority"].size(), 2u);
  EXPECT_EQ(j["config"]["ttt"]["k"], s["chosen"]["ttt"]["k"]);
  EXPECT_EQ(j["config"]["majority"]["k"], s["chosen"]["majority"]["k"]);
  EXPECT_EQ(j["validation"]["size"], 120);
  EXPECT_TRUE(j["config"]["tune"].get<bool>());
}

TEST_F(CliSelection, ScaleTunesEveryConfigurationOnItsOwnHoldout) {
  const fs::path out = root_.path() / "sd";
  const CliRun r = tttlab("scale data --quiet --no-plot --data npy:" + data_.string() + " --out " + out.string() +
                          " --fractions 0.5,1 --seeds 0 --head-epochs 30 --bootstrap 50 --tune --tune-k 5,20 "
                          "--tune-steps 10 --tune-lr 0.1 --tune-majority-k 1,5");
  ASSERT_EQ(r.code, 0) << r.err;
  const json one = json::parse(tttlab::test::read_bytes(out / "runs" / "fraction=0.5,seed=0.json"))["result"];
  ASSERT_TRUE(one.contains("selection")) << one.dump();
  const int64_t k = one["selection"]["ttt"]["k"].get<int64_t>();
  EXPECT_TRUE(k == 5 || k == 20) << k;
  EXPECT_NE(one["selection"]["split"].get<std::string>().find("hold-out"), std::string::npos);
  const json settings = json::parse(tttlab::test::read_bytes(out / "sweep_settings.json"));
  EXPECT_EQ(settings["tune"]["k"], json({5, 20})) << settings.dump();
}
