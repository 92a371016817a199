// Inputs other than an embedding folder and a safetensors head: an .npz archive as --data, and a
// PyTorch pickle given as --head, which is refused with a way to convert it.
#include <algorithm>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.hpp"
#include "zip_writer.hpp"
#include "tttlab/io/npy.hpp"

namespace fs = std::filesystem;
using tttlab::read_npy;
using tttlab::test::CliRun;

namespace {

std::string run_args(const std::string& data, const fs::path& out, const std::string& extra = "") {
  return "run --quiet --threads 2 --data " + data + " --out " + out.string() +
         " --k 20 --steps 10 --head-epochs 5 --bootstrap 100 " + extra;
}

// Exit code 2, one line on stderr that starts with "error: <start>" and holds every piece, no results.json.
void expect_refused(const CliRun& r, const fs::path& out, const std::string& start,
                    std::initializer_list<std::string> pieces) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("error: " + start, 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const auto& piece : pieces) EXPECT_NE(r.err.find(piece), std::string::npos) << piece << "\n" << r.err;
  EXPECT_FALSE(fs::exists(out / "results.json"));
}

class CliInputFormats : public ::testing::Test {
 protected:
  void SetUp() override { tttlab::test::write_xor_blobs(data_, 300, 40); }
  CliRun tttlab(const std::string& args) { return tttlab::test::run_tttlab(args, root_); }

  const tttlab::test::TempDir dir_;
  const fs::path root_ = dir_.path();
  const fs::path data_ = root_ / "emb";
};

}  // namespace

TEST_F(CliInputFormats, NpzArchiveRunsLikeItsFolder) {
  ASSERT_EQ(tttlab(run_args("npy:" + data_.string(), root_ / "folder")).code, 0);
  const fs::path npz = root_ / "emb.npz";
  tttlab::test::write_npz_of_folder(data_, npz, /*deflated=*/true);
  const CliRun r = tttlab(run_args("npy:" + npz.string(), root_ / "npz"));
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* f : {"pred_global.npy", "pred_ttt.npy", "neighbors.npy"}) {
    EXPECT_TRUE(torch::equal(read_npy(root_ / "folder" / f), read_npy(root_ / "npz" / f))) << f;
  }
  // A bare .npz path works as a bare folder path does.
  EXPECT_EQ(tttlab(run_args(npz.string(), root_ / "bare")).code, 0);

  // A missing member and a member that is not .npy: one line naming the archive and the member.
  tttlab::test::write_zip(npz, {{"train_features.npy", tttlab::test::read_bytes(data_ / "train_features.npy")}}, true);
  expect_refused(tttlab(run_args("npy:" + npz.string(), root_ / "bad")), root_ / "bad",
                 npz.string() + ", member train_labels.npy", {"no such member"});
  tttlab::test::write_zip(npz,
                          {{"train_features.npy", "not an array"},
                           {"train_labels.npy", tttlab::test::read_bytes(data_ / "train_labels.npy")},
                           {"test_features.npy", tttlab::test::read_bytes(data_ / "test_features.npy")}},
                          false);
  expect_refused(tttlab(run_args("npy:" + npz.string(), root_ / "bad")), root_ / "bad",
                 npz.string() + ", member train_features.npy", {"not a .npy file"});
  tttlab::test::write_bytes(npz, "PK\x03\x04 and then nothing that a zip reader can use");
  expect_refused(tttlab(run_args("npy:" + npz.string(), root_ / "bad")), root_ / "bad", npz.string(),
                 {"not a readable .npz (zip) archive"});
}

TEST_F(CliInputFormats, PytorchPickleHeadIsRefusedWithAConversion) {
  // torch.save's zip format (a zip whose members include <name>/data.pkl) and the legacy format (a
  // bare pickle: PROTO 2, then the LONG1 magic number torch writes first).
  const fs::path zip_pt = root_ / "head.pt", legacy_pt = root_ / "legacy.pt";
  tttlab::test::write_zip(zip_pt,
                          {{"head/data.pkl", std::string("\x80\x02}q\x00.", 6)},
                           {"head/data/0", std::string(64, '\0')},
                           {"head/version", "3\n"}},
                          false);
  tttlab::test::write_bytes(legacy_pt, std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15));
  for (const fs::path& pt : {zip_pt, legacy_pt}) {
    const fs::path out = root_ / "out";
    expect_refused(
        tttlab(run_args("npy:" + data_.string(), out, "--head " + pt.string())), out, pt.string(),
        {"PyTorch pickle", "tttlab never loads pickles", "can run arbitrary code",
         "python -c \"import torch; from safetensors.torch import save_file; sd = torch.load('" + pt.string() +
             "'); save_file({'weight': sd['weight'], 'bias': sd['bias']}, 'head.safetensors')\""});
  }
}
