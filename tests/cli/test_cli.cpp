// End-to-end: the tttlab binary on small embedding folders. Exit codes, one-line errors naming the
// file, no partial outputs, results.json's contract, config files, reproducibility.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tttlab/io/npy.hpp"
#include "tttlab/io/safetensors.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using tttlab::test::CliRun;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = root_ / "emb";
    make_folder(data_);
  }

  // Four Gaussian blobs in 8-D; labels follow an XOR of two coordinates, so a global linear head is
  // weak and local heads are strong.
  static void make_folder(const fs::path& dir, int64_t n_train = 400, int64_t n_test = 80) {
    tttlab::test::write_xor_blobs(dir, n_train, n_test);
  }

  CliRun tttlab(const std::string& args) { return tttlab::test::run_tttlab(args, root_); }

  std::string small_run(const fs::path& data, const fs::path& out, const std::string& extra = "") {
    return "run --quiet --data npy:" + data.string() + " --out " + out.string() +
           " --k 20 --steps 30 --lr 0.1 --head-epochs 500 --head-batch-size 64 --bootstrap 200 " + extra;
  }

  // A bad-input run: exit code 2, one line on stderr that mentions `needle`, no results.json.
  void expect_input_error(const std::string& args, const std::string& needle, const fs::path& out) {
    const CliRun r = tttlab(args);
    EXPECT_EQ(r.code, 2) << args << "\nstderr: " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err << "\nexpected to mention: " << needle;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
    EXPECT_FALSE(fs::exists(out / "results.json")) << "a failed run left results.json behind";
  }

  const tttlab::test::TempDir dir_;
  const fs::path root_ = dir_.path();
  fs::path data_;
};

}  // namespace

TEST_F(Cli, RunWritesResultsJsonWithTheContract) {
  const fs::path out = root_ / "out";
  const CliRun r = tttlab(small_run(data_, out, "--threads 2"));
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(slurp(out / "results.json"));
  for (const char* name : {"global", "ttt", "majority"}) {
    ASSERT_TRUE(j["methods"].contains(name)) << name;
    const auto& m = j["methods"][name];
    const double acc = m["accuracy"];
    EXPECT_GE(acc, 0.0);
    EXPECT_LE(acc, 1.0);
    EXPECT_LE(m["ci90"][0].get<double>(), acc);
    EXPECT_GE(m["ci90"][1].get<double>(), acc);
    EXPECT_EQ(m["n"], 80);
  }
  EXPECT_TRUE(j["methods"]["majority"]["mean_ce"].is_null());
  EXPECT_TRUE(j["methods"]["ttt"]["mean_ce"].is_number());
  // XOR: local heads beat the global linear head clearly.
  EXPECT_GT(j["methods"]["ttt"]["accuracy"].get<double>(), j["methods"]["global"]["accuracy"].get<double>() + 0.15);
  EXPECT_GT(j["methods"]["ttt"]["accuracy"].get<double>(), 0.85);
  EXPECT_TRUE(j["comparisons"].contains("ttt - global"));
  EXPECT_EQ(j["config"]["ttt"]["k"], 20);
  // Which TTT computation ran, by name: float32 heads, ERM without weight decay.
  const bool on_cpu = j["config"]["device"]["used"].get<std::string>().rfind("cpu", 0) == 0;
  EXPECT_EQ(j["config"]["local_fit_path"], on_cpu ? "batched-cpu" : "fused-rowspace");
  EXPECT_FALSE(j["config"]["ttt"].contains("fused"));
  EXPECT_EQ(j["config"]["seed"], 0);
  EXPECT_TRUE(j["config"]["versions"].contains("libtorch"));
  EXPECT_TRUE(j["timing"].contains("ttt_s"));
  // The machine facts that change numbers: the thread count asked for, the CPU, the BLAS.
  const auto& machine = j["config"]["machine"];
  EXPECT_EQ(machine["libtorch_threads"], 2);
  EXPECT_FALSE(machine["cpu_model"].get<std::string>().empty());
  EXPECT_GE(machine["logical_cpus"].get<int>(), 1);
  EXPECT_TRUE(machine["blas"]["libraries"].is_array());
  // Per-point outputs beside it agree with the summary.
  const auto pred = tttlab::read_npy(out / "pred_ttt.npy");
  const auto labels = tttlab::read_npy(out / "test_labels.npy");
  ASSERT_EQ(pred.size(0), 80);
  EXPECT_NEAR(pred.eq(labels).to(torch::kDouble).mean().item<double>(), j["methods"]["ttt"]["accuracy"].get<double>(),
              1e-12);
  EXPECT_EQ(tttlab::read_npy(out / "neighbors.npy").sizes(), (std::vector<int64_t>{80, 20}));
  // The head loads back (torch.nn.Linear names).
  const auto head = tttlab::read_safetensors(out / "head.safetensors");
  EXPECT_EQ(head.tensors.at("weight").sizes(), (std::vector<int64_t>{2, 8}));
  // The terminal table names every method.
  for (const char* name : {"global", "ttt", "majority", "ttt - global"}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << r.out;
  }
}

// The same seed, machine and thread count give the same results.json in everything but "timing"
// (float reductions may differ across machines or thread counts, so those are held fixed here).
TEST_F(Cli, SameSeedSameResultsAndAHeadFileIsUsed) {
  const CliRun a = tttlab(small_run(data_, root_ / "a", "--threads 2"));
  const CliRun b = tttlab(small_run(data_, root_ / "b", "--threads 2"));
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  json ja = json::parse(slurp(root_ / "a" / "results.json"));
  json jb = json::parse(slurp(root_ / "b" / "results.json"));
  ASSERT_TRUE(ja.contains("timing"));
  ja.erase("timing");
  jb.erase("timing");
  EXPECT_EQ(ja, jb) << "differences: " << json::diff(ja, jb).dump();
  EXPECT_TRUE(ja["methods"]["ttt"]["mean_ce"].is_number());  // not two empty documents
  EXPECT_TRUE(
      torch::equal(tttlab::read_npy(root_ / "a" / "pred_ttt.npy"), tttlab::read_npy(root_ / "b" / "pred_ttt.npy")));
  // Feeding the saved head back gives the same global predictions.
  const CliRun c = tttlab(small_run(data_, root_ / "c", "--head " + (root_ / "a" / "head.safetensors").string()));
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_TRUE(torch::equal(tttlab::read_npy(root_ / "a" / "pred_global.npy"),
                           tttlab::read_npy(root_ / "c" / "pred_global.npy")));
  EXPECT_EQ(json::parse(slurp(root_ / "c" / "results.json"))["config"]["head"]["source"],
            (root_ / "a" / "head.safetensors").string());
}

// scripts/results_table.py turns results.json into the README's table: every number in it comes
// from the file, formatted as the README shows it; a file that is not a results.json exits with 2.
TEST_F(Cli, ResultsTableScriptRendersTheReadmeTable) {
  if (std::system("python3 -c pass >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not installed";
  const fs::path out = root_ / "table";
  const CliRun r = tttlab(small_run(data_, out));
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(slurp(out / "results.json"));
  const std::string script = (fs::path(TTTLAB_SOURCE_DIR) / "scripts" / "results_table.py").string();
  const fs::path table = root_ / "table.md", err = root_ / "table.err";
  auto run_script = [&](const std::string& args) {
    const std::string cmd = "python3 " + script + " " + args + " >" + table.string() + " 2>" + err.string();
    return WEXITSTATUS(std::system(cmd.c_str()));
  };
  ASSERT_EQ(run_script((out / "results.json").string()), 0) << slurp(err);
  const std::string md = slurp(table);
  auto pct = [](double x) { return fmt::format("{:.2f}", 100 * x); };
  const auto& g = j["methods"]["global"];
  EXPECT_NE(md.find(fmt::format("| global | {}% | [{}, {}] | {:.4f} |", pct(g["accuracy"]), pct(g["ci90"][0]),
                                pct(g["ci90"][1]), g["mean_ce"].get<double>())),
            std::string::npos)
      << md;
  const auto& t = j["methods"]["ttt"];
  EXPECT_NE(md.find(fmt::format("| TTT | {}% |", pct(t["accuracy"]))), std::string::npos) << md;
  EXPECT_NE(md.find(fmt::format("| majority vote (k = {}) | {}% |", j["config"]["majority"]["k"].get<int64_t>(),
                                pct(j["methods"]["majority"]["accuracy"]))),
            std::string::npos)
      << md;
  const auto& c = j["comparisons"]["ttt - global"];
  EXPECT_NE(md.find(fmt::format("| TTT - global (paired) | {:+.2f} pp | [{:+.2f}, {:+.2f}] | |",
                                100 * c["accuracy_diff"].get<double>(), 100 * c["ci90"][0].get<double>(),
                                100 * c["ci90"][1].get<double>())),
            std::string::npos)
      << md;
  EXPECT_EQ(run_script((out / "head.safetensors").string()), 2);
  const std::string message = slurp(err);
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 1) << message;
}

TEST_F(Cli, ConfigFileIsReadAndFlagsOverrideIt) {
  const fs::path cfg = root_ / "study.toml";
  std::ofstream(cfg) << "data = \"npy:" << data_.string() << "\"\nk = 12\nsteps = 5\nhead-epochs = 3\nbootstrap = 100\n"
                     << "out = \"" << (root_ / "from_config").string() << "\"\nquiet = true\n";
  CliRun r = tttlab("run --config " + cfg.string());
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(slurp(root_ / "from_config" / "results.json"));
  EXPECT_EQ(j["config"]["ttt"]["k"], 12);
  EXPECT_EQ(j["config"]["ttt"]["steps"], 5);
  r = tttlab("run --config " + cfg.string() + " --k 7 --out " + (root_ / "flag").string());
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(slurp(root_ / "flag" / "results.json"));
  EXPECT_EQ(j["config"]["ttt"]["k"], 7);
  EXPECT_EQ(j["config"]["ttt"]["steps"], 5);
}

TEST_F(Cli, BadInputExitsTwoWithOneLineNamingTheProblem) {
  const fs::path out = root_ / "out";
  expect_input_error(small_run(root_ / "nowhere", out), "nowhere", out);
  expect_input_error(small_run(data_, out, "--k 401"), "larger than the training set", out);
  expect_input_error(small_run(data_, out, "--majority-k 500"), "larger than the training set", out);
  expect_input_error(small_run(data_, out, "--mode full"), "mode", out);
  expect_input_error(small_run(data_, out, "--lr -1"), "lr", out);
  expect_input_error(small_run(data_, out, "--index nosuch"), "nosuch", out);
  expect_input_error(small_run(data_, out, "--no-such-flag"), "no-such-flag", out);
  expect_input_error(small_run(data_, out, "--device tpu"), "--device=tpu", out);
  if (!torch::cuda::is_available()) expect_input_error(small_run(data_, out, "--device cuda"), "no CUDA device", out);
  expect_input_error("run --quiet --data npy:" + data_.string(), "--out", out);
  expect_input_error(small_run(data_, out, "--config " + (root_ / "missing.toml").string()), "missing.toml", out);

  // A head whose shape does not match the features.
  tttlab::write_safetensors(root_ / "bad_head.safetensors",
                            {{"weight", torch::zeros({2, 5})}, {"bias", torch::zeros({2})}});
  expect_input_error(small_run(data_, out, "--head " + (root_ / "bad_head.safetensors").string()),
                     "bad_head.safetensors", out);
  // A file that is not safetensors at all.
  std::ofstream(root_ / "junk.safetensors") << "not a safetensors file";
  expect_input_error(small_run(data_, out, "--head " + (root_ / "junk.safetensors").string()), "junk.safetensors", out);

  // NaN in the features.
  const fs::path nan_dir = root_ / "nan";
  make_folder(nan_dir);
  auto x = tttlab::read_npy(nan_dir / "test_features.npy");
  x[3][1] = std::numeric_limits<float>::quiet_NaN();
  tttlab::write_npy(nan_dir / "test_features.npy", x);
  expect_input_error(small_run(nan_dir, out), "test_features.npy", out);

  // Labels out of range in the test set.
  const fs::path label_dir = root_ / "labels";
  make_folder(label_dir);
  auto y = tttlab::read_npy(label_dir / "test_labels.npy");
  y[0] = 7;
  tttlab::write_npy(label_dir / "test_labels.npy", y);
  expect_input_error(small_run(label_dir, out), "test_labels.npy", out);

  // Train and test of different widths.
  const fs::path width_dir = root_ / "width";
  make_folder(width_dir);
  tttlab::write_npy(width_dir / "test_features.npy", torch::randn({80, 9}));
  expect_input_error(small_run(width_dir, out), "width", out);

  // A truncated file.
  const fs::path trunc_dir = root_ / "trunc";
  make_folder(trunc_dir);
  const auto bytes = slurp(trunc_dir / "train_features.npy");
  std::ofstream(trunc_dir / "train_features.npy", std::ios::binary | std::ios::trunc)
      << bytes.substr(0, bytes.size() - 100);
  expect_input_error(small_run(trunc_dir, out), "train_features.npy", out);

  // An empty test set.
  const fs::path empty_dir = root_ / "empty";
  make_folder(empty_dir);
  tttlab::write_npy(empty_dir / "test_features.npy", torch::zeros({0, 8}));
  tttlab::write_npy(empty_dir / "test_labels.npy", torch::zeros({0}, torch::kLong));
  expect_input_error(small_run(empty_dir, out), "empty", out);
}

TEST_F(Cli, HelpAndModelInfo) {
  CliRun r = tttlab("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("run"), std::string::npos);
  r = tttlab("run --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--steps"), std::string::npos);
  r = tttlab("model --size-scale 0.5");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("feature dimension: 50"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters: 7646"), std::string::npos) << r.out;
  r = tttlab("model --size-scale -1");
  EXPECT_EQ(r.code, 2);
  r = tttlab("");
  EXPECT_EQ(r.code, 2);
}

// `theory export` writes a world folder, not results.json and plots; its help says so.
TEST_F(Cli, TheoryExportHelpDescribesTheWorldFolder) {
  const CliRun r = tttlab("theory export --help");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("results.json"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("plots"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("world.json"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("embedding folder"), std::string::npos) << r.out;
}

// Labels {0, 10, ..., 90} make 91 classes, 81 of them without a training example: the run goes on,
// with one warning line on stderr and the empty classes in results.json.
TEST_F(Cli, ClassesWithoutTrainingExamplesAreWarnedAbout) {
  const fs::path sparse = root_ / "sparse_labels";
  make_folder(sparse);
  for (const char* split : {"train", "test"}) {
    const fs::path file = sparse / (std::string(split) + "_labels.npy");
    auto y = tttlab::read_npy(file);
    y = (y + 2 * (torch::arange(y.size(0), torch::kLong) % 5)) * 10;  // 0, 10, ..., 90
    tttlab::write_npy(file, y);
  }
  const fs::path out = root_ / "sparse_out";
  const CliRun r = tttlab(small_run(sparse, out));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("warning: 81 of 91 classes have no training examples (1, 2, 3"), std::string::npos) << r.err;
  const json j = json::parse(slurp(out / "results.json"));
  EXPECT_EQ(j["dataset"]["num_classes"], 91);
  ASSERT_EQ(j["dataset"]["classes_without_training_examples"].size(), 81u);
  EXPECT_EQ(j["dataset"]["classes_without_training_examples"][0], 1);
  EXPECT_EQ(j["dataset"]["classes_without_training_examples"][80], 89);

  const CliRun plain = tttlab(small_run(data_, root_ / "plain_out"));
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("warning"), std::string::npos) << plain.err;
  EXPECT_EQ(json::parse(slurp(root_ / "plain_out" / "results.json"))["dataset"]["classes_without_training_examples"],
            json::array());
}

// An unknown key in a config file names the file and the key (CLI11 alone would only say that
// `--bogus=1` was not expected).
TEST_F(Cli, UnknownConfigKeyNamesTheFileAndTheKey) {
  const fs::path cfg = root_ / "x.toml";
  std::ofstream(cfg) << "k = 12\nbogus = 1\n";
  const fs::path out = root_ / "bogus_out";
  expect_input_error(small_run(data_, out, "--config " + cfg.string()),
                     cfg.string() + ": unknown key 'bogus' (no option --bogus in `tttlab run`", out);
  // Inside the command's table, and for a command of two words.
  std::ofstream(cfg, std::ios::trunc) << "[train]\nepochs = 2\nbogus = 1\n";
  expect_input_error("sae train --config " + cfg.string(), cfg.string() + ": unknown key 'bogus'", out);
}

// A config file reaches a command of two words (`sae train`): its keys follow both words.
TEST_F(Cli, ConfigFileReachesATwoWordCommand) {
  const fs::path cfg = root_ / "sae.toml";
  const fs::path out = root_ / "sae_out";
  std::ofstream(cfg) << "data = \"npy:" << data_.string() << "\"\nout = \"" << out.string() << "\"\nquiet = true\n"
                     << "latent-dim = 16\nk = 2\nk-start = 4\nepochs = 2\nbatch-size = 100\nwarmup-steps = 2\n";
  const CliRun r = tttlab("sae train --device cpu --config " + cfg.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(slurp(out / "sae.json"));
  EXPECT_EQ(j["latent_dim"], 16);
  EXPECT_EQ(j["config"]["epochs"], 2);
}

// A mistyped command is named, with the list of commands, exit 2, with and without --help.
TEST_F(Cli, UnknownCommandIsNamedWithTheCommandList) {
  for (const std::string args : {"embedd", "embedd --help", "embedd --data npy:x"}) {
    const CliRun r = tttlab(args);
    EXPECT_EQ(r.code, 2) << args << "\nstdout: " << r.out;
    EXPECT_NE(r.err.find("unknown command 'embedd'"), std::string::npos) << args << "\nstderr: " << r.err;
    EXPECT_NE(r.err.find("run, model, lm, theory, sae, reproduce, scale, presets, embed"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "") << args;
  }
  const CliRun nested = tttlab("sae trian --help");
  EXPECT_EQ(nested.code, 2);
  EXPECT_NE(nested.err.find("unknown command 'trian' for `tttlab sae`; the commands are: train, encode"),
            std::string::npos)
      << nested.err;
  // Known commands still print their help.
  EXPECT_EQ(tttlab("sae train --help").code, 0);
  EXPECT_EQ(tttlab("--help").code, 0);
}

// A reused --out folder keeps nothing of the earlier run that this run does not write again (here a
// network and a method an earlier run left), and nothing else is touched.
TEST_F(Cli, ReusedOutFolderLosesTheEarlierRunsFiles) {
  const fs::path out = root_ / "reused";
  fs::create_directories(out);
  tttlab::write_safetensors(out / "model.safetensors", {{"conv1.weight", torch::zeros({1})}});
  tttlab::write_npy(out / "pred_old_method.npy", torch::zeros({3}, torch::kLong));
  std::ofstream(out / "notes.txt") << "mine";
  const CliRun r = tttlab(small_run(data_, out));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  EXPECT_FALSE(fs::exists(out / "pred_old_method.npy"));
  EXPECT_EQ(slurp(out / "notes.txt"), "mine");
  EXPECT_TRUE(fs::exists(out / "pred_ttt.npy"));
  EXPECT_TRUE(fs::exists(out / "head.safetensors"));
  const json j = json::parse(slurp(out / "results.json"));
  EXPECT_FALSE(j["outputs"].contains("model"));
}
