// Embedding data beyond a labelled folder: .npz archives (stored and deflated, and every way they can
// be broken) and test sets without labels.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.hpp"
#include "zip_writer.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/io/npz.hpp"

namespace fs = std::filesystem;
using namespace tttlab;
using namespace tttlab::test;

namespace {

// A labelled folder: train 12x4 with labels 0..2, test 6x4, val 3x4.
void write_folder(const fs::path& dir, bool with_val) {
  Dataset ds;
  torch::manual_seed(21);
  ds.train = {torch::randn({12, 4}), torch::arange(12, torch::kLong) % 3};
  ds.test = {torch::randn({6, 4}), torch::arange(6, torch::kLong) % 3};
  if (with_val) ds.val = Split{torch::randn({3, 4}), torch::arange(3, torch::kLong) % 3};
  write_embedding_folder(dir, ds);
}

void expect_same_data(const Dataset& a, const Dataset& b) {
  EXPECT_EQ(a.num_classes, b.num_classes);
  EXPECT_TRUE(torch::equal(a.train.x, b.train.x));
  EXPECT_TRUE(torch::equal(a.train.y, b.train.y));
  EXPECT_TRUE(torch::equal(a.test.x, b.test.x));
  EXPECT_TRUE(torch::equal(a.test.y, b.test.y));
  ASSERT_EQ(a.val.has_value(), b.val.has_value());
  if (a.val) EXPECT_TRUE(torch::equal(a.val->x, b.val->x));
}

std::string npy_bytes(const fs::path& scratch, const torch::Tensor& t) {
  write_npy(scratch / "scratch.npy", t);
  return read_bytes(scratch / "scratch.npy");
}

}  // namespace

TEST(Npz, StoredAndDeflatedArchivesHoldTheFoldersArrays) {
  TempDir dir;
  write_folder(dir / "emb", true);
  const Dataset folder = load_embedding_folder(dir / "emb");
  for (const bool deflated : {false, true}) {
    const fs::path npz = dir / (deflated ? "deflated.npz" : "stored.npz");
    write_npz_of_folder(dir / "emb", npz, deflated);
    const Dataset archive = load_embedding_npz(npz);
    EXPECT_EQ(archive.name, "npy:" + npz.string());
    expect_same_data(archive, folder);
    // load_dataset: npy:FILE and a bare path ending in .npz.
    expect_same_data(load_dataset("npy:" + npz.string()), folder);
    expect_same_data(load_dataset(npz.string()), folder);
  }
  // The deflated archive really is compressed (its members are not stored verbatim).
  EXPECT_LT(fs::file_size(dir / "deflated.npz"), fs::file_size(dir / "stored.npz"));
}

TEST(Npz, BrokenArchivesNameTheFileAndTheMember) {
  TempDir dir;
  write_folder(dir / "emb", false);
  const fs::path npz = dir / "e.npz";
  const std::string good = zip_bytes({{"train_features.npy", read_bytes(dir / "emb/train_features.npy")},
                                      {"train_labels.npy", read_bytes(dir / "emb/train_labels.npy")},
                                      {"test_features.npy", read_bytes(dir / "emb/test_features.npy")},
                                      {"test_labels.npy", read_bytes(dir / "emb/test_labels.npy")}},
                                     false);

  // Not a zip file at all.
  write_bytes(npz, "this is not a zip archive, just some text of reasonable length........");
  expect_input_error([&] { load_embedding_npz(npz); }, npz.string(), {"not a readable .npz (zip) archive"});
  // Truncated: the end record (and so the central directory) is gone.
  write_bytes(npz, good.substr(0, good.size() - 30));
  expect_input_error([&] { load_embedding_npz(npz); }, npz.string(), {"not a readable .npz (zip) archive"});
  // A missing member names the member and lists what the archive holds.
  write_zip(npz,
            {{"train_features.npy", read_bytes(dir / "emb/train_features.npy")},
             {"train_labels.npy", read_bytes(dir / "emb/train_labels.npy")},
             {"test_features.npy", read_bytes(dir / "emb/test_features.npy")}},
            true);
  expect_input_error([&] { load_embedding_npz(npz); }, npz.string() + ", member test_labels.npy",
                     {"no such member", "this one holds train_features.npy, train_labels.npy, test_features.npy"});
  // ... unless the labels are optional (an unlabelled test set).
  EXPECT_FALSE(load_embedding_npz(npz, TestLabels::Optional).test.y.defined());
  // A member that is not a .npy file.
  write_zip(npz,
            {{"train_features.npy", read_bytes(dir / "emb/train_features.npy")},
             {"train_labels.npy", "0,1,2,0,1,2,0,1,2,0,1,2\n"},
             {"test_features.npy", read_bytes(dir / "emb/test_features.npy")},
             {"test_labels.npy", read_bytes(dir / "emb/test_labels.npy")}},
            true);
  expect_input_error([&] { load_embedding_npz(npz); }, npz.string() + ", member train_labels.npy", {"not a .npy file"});
  // A member whose bytes no longer match its CRC-32: one byte of test_features.npy's float data
  // (stored, so its .npy bytes sit verbatim after the member's name) flipped.
  std::string flipped = good;
  const size_t data_at = flipped.find("\x93NUMPY", flipped.find("test_features.npy"));
  ASSERT_NE(data_at, std::string::npos);
  flipped[data_at + 138] ^= 0x01;  // past the 64- or 128-byte .npy header, inside the 96 data bytes
  write_bytes(npz, flipped);
  expect_input_error([&] { load_embedding_npz(npz); }, npz.string() + ", member test_features.npy",
                     {"corrupt member", "CRC"});
  // The .npy checks run on members as on files, naming the member.
  write_zip(npz,
            {{"train_features.npy", npy_bytes(dir.path(), torch::randn({12, 4, 1}))},
             {"train_labels.npy", read_bytes(dir / "emb/train_labels.npy")},
             {"test_features.npy", read_bytes(dir / "emb/test_features.npy")},
             {"test_labels.npy", read_bytes(dir / "emb/test_labels.npy")}},
            false);
  expect_input_error([&] { load_embedding_npz(npz); }, npz.string() + ", member train_features.npy",
                     {"expected 2-D [N, d]"});
  // npy:FILE that does not exist is reported as a missing path.
  expect_input_error([&] { load_dataset("npy:" + (dir / "absent.npz").string()); }, (dir / "absent.npz").string(),
                     {"no such"});
}

TEST(Npz, ArchiveListsAndReadsMembers) {
  TempDir dir;
  const auto t = torch::arange(6, torch::kLong).reshape({2, 3});
  write_zip(dir / "a.npz", {{"a.npy", npy_bytes(dir.path(), t)}, {"b.npy", npy_bytes(dir.path(), t * 2)}}, true);
  const NpzArchive archive(dir / "a.npz");
  EXPECT_EQ(archive.members(), (std::vector<std::string>{"a.npy", "b.npy"}));
  EXPECT_TRUE(archive.has("b.npy"));
  EXPECT_FALSE(archive.has("c.npy"));
  EXPECT_TRUE(torch::equal(archive.read("b.npy"), t * 2));
  expect_input_error([&] { archive.read("c.npy"); }, (dir / "a.npz").string() + ", member c.npy",
                     {"no such member", "a.npy, b.npy"});
}

TEST(UnlabelledTestSet, AllowedOnlyWhenAskedFor) {
  TempDir dir;
  write_folder(dir.path(), false);
  fs::remove(dir / "test_labels.npy");
  // Required (every study but `tttlab run`): the missing file is an error, as before.
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "test_labels.npy").string(), {"no such file"});
  expect_input_error([&] { load_dataset(dir.path().string()); }, (dir / "test_labels.npy").string(), {"no such file"});
  // Optional: the test split has features and no labels; the rest is checked as usual.
  const Dataset ds = load_dataset("npy:" + dir.path().string(), TestLabels::Optional);
  EXPECT_FALSE(ds.test.y.defined());
  EXPECT_EQ(ds.test.x.sizes(), (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(ds.num_classes, 3);
  // Test features are still checked (here their width).
  write_npy(dir / "test_features.npy", torch::randn({6, 5}));
  expect_input_error([&] { load_embedding_folder(dir.path(), TestLabels::Optional); },
                     (dir / "test_features.npy").string(), {"width 5", "width 4"});
  // Training labels are never optional.
  write_npy(dir / "test_features.npy", torch::randn({6, 4}));
  fs::remove(dir / "train_labels.npy");
  expect_input_error([&] { load_embedding_folder(dir.path(), TestLabels::Optional); },
                     (dir / "train_labels.npy").string(), {"no such file"});
}

TEST(UnlabelledTestSet, ExportWritesNoTestLabels) {
  TempDir dir;
  write_folder(dir.path(), false);  // leaves a test_labels.npy that the export must remove
  Dataset ds;
  ds.train = {torch::randn({5, 2}), torch::tensor({0, 1, 0, 1, 1})};
  ds.test = {torch::randn({3, 2}), torch::Tensor()};
  write_embedding_folder(dir.path(), ds);
  EXPECT_FALSE(fs::exists(dir / "test_labels.npy"));
  EXPECT_TRUE(torch::equal(read_npy(dir / "test_features.npy"), ds.test.x));
  EXPECT_FALSE(load_embedding_folder(dir.path(), TestLabels::Optional).test.y.defined());
}
