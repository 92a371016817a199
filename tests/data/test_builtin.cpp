#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/io/npy.hpp"

namespace fs = std::filesystem;
using namespace tttlab;
using namespace tttlab::test;

namespace {

const fs::path kFashionDir = "/usr/share/datasets/fashion-mnist";

fs::path mnist_dir() {
  if (const char* env = std::getenv("TTTLAB_MNIST_DIR"); env != nullptr && *env != '\0') return env;
  return fs::path(TTTLAB_SOURCE_DIR) / "third_party/mnist";
}

std::vector<int64_t> class_counts(const torch::Tensor& y, int64_t num_classes) {
  const torch::Tensor b = torch::bincount(y, {}, num_classes);
  return std::vector<int64_t>(b.data_ptr<int64_t>(), b.data_ptr<int64_t>() + num_classes);
}

// IDX bytes: magic 0 0 0x08 (uint8) ndims, big-endian sizes, then the items.
std::string idx_u8(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& items) {
  std::string b{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b += static_cast<char>((d >> shift) & 0xFF);
  }
  b.append(items.begin(), items.end());
  return b;
}

// A small MNIST folder: n_train / n_test images; image i of a split has every pixel equal to i + 1,
// except pixel 0, which is 10 * its label (label = i mod 10).
void write_fake_mnist(const fs::path& dir, uint32_t n_train, uint32_t n_test) {
  fs::create_directories(dir);
  auto write = [&](const std::string& images, const std::string& labels, uint32_t n) {
    std::vector<uint8_t> px, y;
    for (uint32_t i = 0; i < n; ++i) {
      y.push_back(static_cast<uint8_t>(i % 10));
      for (int p = 0; p < 784; ++p) px.push_back(static_cast<uint8_t>(p == 0 ? 10 * (i % 10) : i + 1));
    }
    write_bytes(dir / images, idx_u8({n, 28, 28}, px));
    write_bytes(dir / labels, idx_u8({n}, y));
  };
  write("train-images-idx3-ubyte", "train-labels-idx1-ubyte", n_train);
  write("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", n_test);
}

Split make_split(int64_t n, int64_t d, int64_t num_classes, int seed) {
  torch::manual_seed(seed);
  Split s;
  s.x = torch::randn({n, d});
  s.y = torch::arange(n, torch::kLong) % num_classes;
  return s;
}

// Writes a valid folder (train 12x4 labels 0..2, test 6x4, optional val 3x4).
void write_valid_folder(const fs::path& dir, bool with_val = false) {
  Dataset ds;
  ds.train = make_split(12, 4, 3, 1);
  ds.test = make_split(6, 4, 3, 2);
  if (with_val) ds.val = make_split(3, 4, 3, 3);
  write_embedding_folder(dir, ds);
}

}  // namespace

// ---- Fashion-MNIST ----

TEST(FashionMnist, SizesClassesAndPixelRange) {
  if (!fs::exists(kFashionDir)) GTEST_SKIP() << kFashionDir << " absent (Debian package dataset-fashion-mnist)";
  const Dataset ds = load_fashion_mnist();
  EXPECT_EQ(ds.name, "fashion-mnist");
  EXPECT_TRUE(ds.is_images);
  EXPECT_EQ(ds.num_classes, 10);
  EXPECT_FALSE(ds.val.has_value());
  EXPECT_EQ(ds.train.x.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(ds.test.x.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_EQ(ds.train.x.scalar_type(), torch::kFloat);
  EXPECT_EQ(ds.train.y.scalar_type(), torch::kLong);
  EXPECT_EQ(class_counts(ds.train.y, 10), std::vector<int64_t>(10, 6000));
  EXPECT_EQ(class_counts(ds.test.y, 10), std::vector<int64_t>(10, 1000));
  EXPECT_EQ(ds.train.x.min().item<float>(), 0.0f);
  EXPECT_EQ(ds.train.x.max().item<float>(), 1.0f);
  // Not all black, not all white: the mean pixel of Fashion-MNIST is about 0.286.
  EXPECT_NEAR(ds.train.x.mean().item<float>(), 0.286f, 0.01f);
  // Pixels are multiples of 1/255.
  const torch::Tensor scaled = ds.test.x * 255;
  EXPECT_TRUE(torch::allclose(scaled, scaled.round(), 0, 1e-3));
  validate_split(ds.train, 10, "fashion-mnist train");
}

TEST(FashionMnist, MissingFilesSayHowToInstall) {
  TempDir dir;
  const std::string p = (dir / "train-images-idx3-ubyte.gz").string();
  expect_input_error([&] { load_fashion_mnist(dir.path()); }, p,
                     {"no such file", "install the Debian package dataset-fashion-mnist (scripts/setup does)"});
}

// ---- MNIST ----

TEST(Mnist, TheStandardSplit) {
  if (!fs::exists(mnist_dir() / "t10k-labels-idx1-ubyte")) GTEST_SKIP() << "MNIST absent (scripts/setup)";
  const Dataset ds = load_mnist();
  EXPECT_EQ(ds.name, "mnist");
  EXPECT_TRUE(ds.is_images);
  EXPECT_EQ(ds.num_classes, 10);
  EXPECT_FALSE(ds.val.has_value());
  ASSERT_EQ(ds.train.x.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  ASSERT_EQ(ds.test.x.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  // The original files' class counts and first labels.
  EXPECT_EQ(class_counts(ds.train.y, 10),
            (std::vector<int64_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}));
  EXPECT_EQ(class_counts(ds.test.y, 10), (std::vector<int64_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
  EXPECT_TRUE(torch::equal(ds.train.y.narrow(0, 0, 5), torch::tensor({5, 0, 4, 1, 9}, torch::kLong)));
  EXPECT_TRUE(torch::equal(ds.test.y.narrow(0, 0, 5), torch::tensor({7, 2, 1, 0, 4}, torch::kLong)));
  EXPECT_EQ(ds.train.x.min().item<float>(), 0.0f);
  EXPECT_EQ(ds.train.x.max().item<float>(), 1.0f);
  // The mean pixel of MNIST's training images is 0.1307.
  EXPECT_NEAR(ds.train.x.mean().item<float>(), 0.1307f, 0.001f);
}

TEST(Mnist, FolderFromArgumentOrEnvironment) {
  TempDir dir;
  write_fake_mnist(dir / "m", 30, 12);
  const char* old = std::getenv("TTTLAB_MNIST_DIR");
  const std::string saved = old ? old : "";
  setenv("TTTLAB_MNIST_DIR", (dir / "m").c_str(), 1);
  const Dataset ds = load_mnist();
  if (old)
    setenv("TTTLAB_MNIST_DIR", saved.c_str(), 1);
  else
    unsetenv("TTTLAB_MNIST_DIR");
  ASSERT_EQ(ds.train.size(), 30);
  ASSERT_EQ(ds.test.size(), 12);
  // File order kept; pixel 0 is 10 * label / 255, the others (index + 1) / 255.
  const torch::Tensor flat = ds.test.x.reshape({12, 784});
  for (int64_t i = 0; i < 12; ++i) {
    EXPECT_EQ(ds.test.y[i].item<int64_t>(), i % 10);
    EXPECT_FLOAT_EQ(flat[i][0].item<float>(), static_cast<float>(10 * (i % 10)) / 255.0f);
    EXPECT_FLOAT_EQ(flat[i][783].item<float>(), static_cast<float>(i + 1) / 255.0f);
  }
  // An explicit folder wins over the environment.
  const Dataset same = load_mnist(dir / "m");
  EXPECT_TRUE(torch::equal(same.train.x, ds.train.x));
  EXPECT_TRUE(torch::equal(same.train.y, ds.train.y));
}

TEST(Mnist, MissingOrMismatchedFiles) {
  TempDir dir;
  const fs::path root = dir / "m";
  expect_input_error([&] { load_mnist(root); }, (root / "train-images-idx3-ubyte").string(),
                     {"no such file", "scripts/setup", "TTTLAB_MNIST_DIR"});
  write_fake_mnist(root, 20, 10);
  write_bytes(root / "t10k-labels-idx1-ubyte", idx_u8({9}, std::vector<uint8_t>(9, 1)));
  expect_input_error([&] { load_mnist(root); }, (root / "t10k-labels-idx1-ubyte").string(),
                     {"9 labels", "10 images", "one label per image"});
  write_bytes(root / "t10k-labels-idx1-ubyte", idx_u8({10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 10}));
  expect_input_error([&] { load_mnist(root); }, (root / "t10k-labels-idx1-ubyte").string(),
                     {"row 9 has label 10", "0..9"});
  write_bytes(root / "train-images-idx3-ubyte", idx_u8({20, 28, 27}, std::vector<uint8_t>(20 * 28 * 27, 0)));
  expect_input_error([&] { load_mnist(root); }, (root / "train-images-idx3-ubyte").string(),
                     {"[20, 28, 27]", "uint8 [N, 28, 28]"});
}

// ---- Embedding folders ----

TEST(EmbeddingFolder, RoundTripWithConversions) {
  TempDir dir;
  write_valid_folder(dir.path(), true);
  const Dataset ds = load_embedding_folder(dir.path());
  EXPECT_EQ(ds.name, "npy:" + dir.path().string());
  EXPECT_FALSE(ds.is_images);
  EXPECT_EQ(ds.num_classes, 3);
  ASSERT_TRUE(ds.val.has_value());
  EXPECT_TRUE(torch::equal(ds.train.x, make_split(12, 4, 3, 1).x));
  EXPECT_TRUE(torch::equal(ds.test.y, make_split(6, 4, 3, 2).y));
  EXPECT_EQ(ds.val->size(), 3);

  // float16 features and int32 labels convert; num_classes = 1 + max train label.
  write_npy(dir / "train_features.npy", torch::tensor({{1.5, -2.0}, {0.25, 3.0}}).to(torch::kHalf));
  write_npy(dir / "train_labels.npy", torch::tensor({4, 7}, torch::kInt));
  write_npy(dir / "test_features.npy", torch::tensor({{1.0, 2.0}}, torch::kDouble));
  write_npy(dir / "test_labels.npy", torch::tensor({7}, torch::kLong));
  fs::remove(dir / "val_features.npy");
  fs::remove(dir / "val_labels.npy");
  const Dataset h = load_embedding_folder(dir.path());
  EXPECT_EQ(h.train.x.scalar_type(), torch::kFloat);
  EXPECT_EQ(h.train.y.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(h.train.x, torch::tensor({{1.5f, -2.0f}, {0.25f, 3.0f}})));
  EXPECT_EQ(h.num_classes, 8);
  EXPECT_FALSE(h.val.has_value());

  // Writing without val removes stale val files.
  write_valid_folder(dir.path(), true);
  write_valid_folder(dir.path(), false);
  EXPECT_FALSE(fs::exists(dir / "val_features.npy"));
  EXPECT_FALSE(load_embedding_folder(dir.path()).val.has_value());
}

TEST(EmbeddingFolderErrors, MissingFile) {
  TempDir dir;
  write_valid_folder(dir.path());
  fs::remove(dir / "test_labels.npy");
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "test_labels.npy").string(),
                     {"no such file", "train_features.npy, train_labels.npy"});
  expect_input_error([&] { load_embedding_folder(dir / "nope"); }, (dir / "nope").string(), {"no such directory"});
}

TEST(EmbeddingFolderErrors, FeaturesNot2D) {
  TempDir dir;
  write_valid_folder(dir.path());
  write_npy(dir / "train_features.npy", torch::zeros({12}));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "train_features.npy").string(),
                     {"shape [12]", "expected 2-D [N, d]"});
}

TEST(EmbeddingFolderErrors, LabelsNot1D) {
  TempDir dir;
  write_valid_folder(dir.path());
  write_npy(dir / "train_labels.npy", torch::zeros({12, 1}, torch::kLong));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "train_labels.npy").string(),
                     {"shape [12, 1]", "expected 1-D [N]"});
}

TEST(EmbeddingFolderErrors, WrongDtypes) {
  TempDir dir;
  write_valid_folder(dir.path());
  write_npy(dir / "test_labels.npy", torch::zeros({6}, torch::kFloat));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "test_labels.npy").string(),
                     {"dtype float32", "expected int64 or int32"});
  write_valid_folder(dir.path());
  write_npy(dir / "test_features.npy", torch::zeros({6, 4}, torch::kInt));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "test_features.npy").string(),
                     {"dtype int32", "expected float32, float16 or float64"});
}

TEST(EmbeddingFolderErrors, RowCountMismatch) {
  TempDir dir;
  write_valid_folder(dir.path());
  write_npy(dir / "train_labels.npy", torch::zeros({11}, torch::kLong));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "train_labels.npy").string(),
                     {"11 labels but train_features.npy has 12 rows"});
}

TEST(EmbeddingFolderErrors, EmptySets) {
  TempDir dir;
  write_valid_folder(dir.path());
  write_npy(dir / "test_features.npy", torch::zeros({0, 4}));
  write_npy(dir / "test_labels.npy", torch::zeros({0}, torch::kLong));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "test_features.npy").string(),
                     {"test set is empty (0 rows"});
  write_valid_folder(dir.path());
  write_npy(dir / "train_features.npy", torch::zeros({12, 0}));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "train_features.npy").string(), {"width 0"});
}

TEST(EmbeddingFolderErrors, NonFiniteFeaturesNameTheRow) {
  TempDir dir;
  write_valid_folder(dir.path());
  torch::Tensor x = torch::zeros({12, 4});
  x[7][2] = std::numeric_limits<float>::quiet_NaN();
  x[9][0] = std::numeric_limits<float>::infinity();
  write_npy(dir / "train_features.npy", x);
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "train_features.npy").string(),
                     {"row 7 has a non-finite value (NaN) in column 2", "2 bad rows"});
  torch::Tensor t = torch::zeros({6, 4});
  t[5][3] = -std::numeric_limits<float>::infinity();
  write_valid_folder(dir.path());
  write_npy(dir / "test_features.npy", t.to(torch::kHalf));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "test_features.npy").string(),
                     {"row 5", "-inf"});
  torch::Tensor d = torch::zeros({6, 4}, torch::kDouble);
  d[2][1] = 1e300;
  write_npy(dir / "test_features.npy", d);
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "test_features.npy").string(),
                     {"row 2 column 1", "does not fit in float32"});
}

// A corrupt label of about 1e18 made C = 1 + max label, and the run died allocating a [C, d] head
// ("Storage size calculation overflowed", exit 1); the class count is bounded at 1,000,000.
TEST(EmbeddingFolderErrors, HugeLabelIsRejectedWithTheClassBound) {
  TempDir dir;
  write_valid_folder(dir.path());
  torch::Tensor y = torch::arange(12, torch::kLong) % 3;
  y[5] = 1'000'000'000'000'000'000;
  write_npy(dir / "train_labels.npy", y);
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "train_labels.npy").string(),
                     {"row 5 has label 1000000000000000000", "C <= 1000000"});
  y[5] = 1'000'000;
  write_npy(dir / "train_labels.npy", y);
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "train_labels.npy").string(),
                     {"row 5 has label 1000000, which would make 1000001 classes"});
  // The bound itself is accepted: 1,000,000 classes (largest label 999,999).
  y[5] = 999'999;
  write_npy(dir / "train_labels.npy", y);
  EXPECT_EQ(load_embedding_folder(dir.path()).num_classes, 1'000'000);
}

// Finite features of about 1e30 overflowed float32 squared distances to inf, and the neighbour
// search returned too few neighbours (exit 1). The bound is sqrt(FLT_MAX) / (2 sqrt(d)).
TEST(EmbeddingFolderErrors, FeaturesTooLargeForSquaredDistances) {
  TempDir dir;
  write_valid_folder(dir.path());
  torch::Tensor x = torch::randn({12, 4});
  x[3][1] = 1e30f;
  write_npy(dir / "train_features.npy", x);
  expect_input_error(
      [&] { load_embedding_folder(dir.path()); }, (dir / "train_features.npy").string(),
      {"row 3 column 1 has value 1e+30", "too large for float32 squared distances", "4.61e+18", "d = 4"});
  // float64 input below float32's range but above the bound is caught too, on the test side as well.
  write_valid_folder(dir.path());
  torch::Tensor t = torch::zeros({6, 4}, torch::kDouble);
  t[4][0] = -1e20;
  write_npy(dir / "test_features.npy", t);
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "test_features.npy").string(),
                     {"row 4 column 0 has value -1e+20"});
  // Values at the bound load: every squared distance stays finite.
  const double bound = std::sqrt(static_cast<double>(std::numeric_limits<float>::max())) / 4.0;
  write_valid_folder(dir.path());
  torch::Tensor edge = torch::full({12, 4}, static_cast<float>(bound) * 0.999f);
  edge.index_put_({torch::indexing::Slice(0, 6)}, -static_cast<float>(bound) * 0.999f);
  write_npy(dir / "train_features.npy", edge);
  const Dataset ds = load_embedding_folder(dir.path());
  const torch::Tensor d2 = (ds.train.x.unsqueeze(1) - ds.train.x.unsqueeze(0)).pow(2).sum(-1);
  EXPECT_TRUE(torch::isfinite(d2).all().item<bool>());
}

TEST(EmbeddingFolderErrors, WidthMismatch) {
  TempDir dir;
  write_valid_folder(dir.path(), true);
  write_npy(dir / "val_features.npy", torch::zeros({3, 5}));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "val_features.npy").string(),
                     {"width 5 but train_features.npy has width 4"});
}

TEST(EmbeddingFolderErrors, OnlyOneValFile) {
  TempDir dir;
  write_valid_folder(dir.path(), true);
  fs::remove(dir / "val_labels.npy");
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "val_labels.npy").string(),
                     {"val_features.npy exists", "both val files or neither"});
}

TEST(EmbeddingFolderErrors, NegativeLabels) {
  TempDir dir;
  write_valid_folder(dir.path());
  write_npy(dir / "train_labels.npy", torch::tensor({0, 1, 2, 0, 1, -3, 0, 1, 2, 0, 1, 2}, torch::kInt));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "train_labels.npy").string(),
                     {"row 5 has label -3"});
}

TEST(EmbeddingFolderErrors, TestLabelOutOfRange) {
  TempDir dir;
  write_valid_folder(dir.path());
  write_npy(dir / "test_labels.npy", torch::tensor({0, 3, 1, 2, 0, 1}, torch::kLong));
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "test_labels.npy").string(),
                     {"row 1 has label 3, outside the range 0..2", "num_classes", "= 3"});
}

TEST(LoadDataset, SpecForms) {
  TempDir dir;
  write_valid_folder(dir.path());
  EXPECT_EQ(load_dataset("npy:" + dir.path().string()).train.size(), 12);
  EXPECT_EQ(load_dataset(dir.path().string()).test.size(), 6);
  expect_input_error([&] { load_dataset("imagenet"); }, "imagenet",
                     {"unknown data set", "fashion-mnist, mnist, npy:DIR"});
  expect_input_error([&] { load_dataset("npy:"); }, "npy:", {"expected npy:DIR"});
  expect_input_error([&] { load_dataset("npy:" + (dir / "missing").string()); }, (dir / "missing").string(),
                     {"no such directory"});
}

TEST(ValidateSplit, CatchesEachProblem) {
  const Split good = make_split(10, 3, 4, 5);
  EXPECT_NO_THROW(validate_split(good, 4, "feats"));
  expect_input_error([&] { validate_split(good, 3, "feats"); }, "feats", {"row 3 has label 3, outside the range 0..2"});
  Split nan = make_split(10, 3, 4, 5);
  nan.x[6][1] = std::numeric_limits<float>::quiet_NaN();
  expect_input_error([&] { validate_split(nan, 4, "lenet features"); }, "lenet features", {"row 6", "NaN"});
  Split mismatch = make_split(10, 3, 4, 5);
  mismatch.y = mismatch.y.narrow(0, 0, 9);
  expect_input_error([&] { validate_split(mismatch, 4, "feats"); }, "feats", {"10 feature rows but 9 labels"});
  Split wrong = make_split(10, 3, 4, 5);
  wrong.y = wrong.y.to(torch::kInt);
  expect_input_error([&] { validate_split(wrong, 4, "feats"); }, "feats", {"expected int64 [N]"});
  Split empty;
  empty.x = torch::zeros({0, 3});
  empty.y = torch::zeros({0}, torch::kLong);
  expect_input_error([&] { validate_split(empty, 4, "feats"); }, "feats", {"empty (0 rows"});
  Split images = make_split(4, 3, 2, 1);
  images.x = torch::rand({4, 1, 28, 28});
  EXPECT_NO_THROW(validate_split(images, 2, "images"));
}
