#include "tttlab/data/builtin.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/shape.hpp"
#include "tttlab/data/lrh_world.hpp"
#include "tttlab/io/binary_io.hpp"
#include "tttlab/io/idx.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/io/npz.hpp"

namespace tttlab {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kImageSide = 28;
constexpr int64_t kImagePixels = kImageSide * kImageSide;

bool is_float_type(torch::ScalarType t) { return t == torch::kHalf || t == torch::kFloat || t == torch::kDouble; }
bool is_int_type(torch::ScalarType t) {
  return t == torch::kByte || t == torch::kChar || t == torch::kShort || t == torch::kInt || t == torch::kLong;
}

std::string value_string(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "inf" : "-inf";
}

// Row and column of the first non-finite value of `flat` ([N, w]), in row-major order, if any.
std::optional<std::pair<int64_t, int64_t>> first_non_finite(const torch::Tensor& flat) {
  const torch::Tensor bad = ~torch::isfinite(flat);
  if (!bad.any().item<bool>()) return std::nullopt;
  const torch::Tensor idx = bad.nonzero();  // [K, 2], row-major order
  return std::make_pair(idx[0][0].item<int64_t>(), idx[0][1].item<int64_t>());
}

// Throws if x (float, [N, ...]) has a non-finite value, naming the first bad row and column.
void check_finite_rows(const torch::Tensor& x, const std::string& what) {
  const torch::Tensor flat = x.reshape({x.size(0), -1});
  const auto first = first_non_finite(flat);
  if (!first) return;
  const auto [row, col] = *first;
  const int64_t rows = (~torch::isfinite(flat)).any(1).sum().item<int64_t>();
  throw_input_error(
      "{}: row {} has a non-finite value ({}) in column {} ({} bad rows in all; expected finite features)", what, row,
      value_string(flat[row][col].item<double>()), col, rows);
}

// Throws if a label is negative or >= num_classes (y int64 [N]).
void check_label_range(const torch::Tensor& y, int64_t num_classes, const std::string& what,
                       const std::string& range_note) {
  const torch::Tensor bad = (y < 0) | (y >= num_classes);
  if (!bad.any().item<bool>()) return;
  const int64_t row = bad.nonzero()[0][0].item<int64_t>();
  const int64_t label = y[row].item<int64_t>();
  if (label < 0) throw_input_error("{}: row {} has label {} (expected labels >= 0)", what, row, label);
  throw_input_error("{}: row {} has label {}, outside the range 0..{}{}", what, row, label, num_classes - 1,
                    range_note);
}

// ---- IDX image sets (Fashion-MNIST, MNIST) ----

// One split of an IDX image set: `where` says how to get the files when they are missing.
Split load_idx_pair(const fs::path& images_path, const fs::path& labels_path, const std::string& where) {
  for (const fs::path& p : {images_path, labels_path}) {
    std::error_code ec;
    if (!fs::exists(p, ec)) throw_input_error("{}: no such file ({})", p.string(), where);
  }
  const torch::Tensor images = read_idx(images_path);
  const torch::Tensor labels = read_idx(labels_path);
  require_input(images.scalar_type() == torch::kByte && images.dim() == 3 && images.size(1) == kImageSide &&
                    images.size(2) == kImageSide,
                "{}: images have type {} and shape {} (expected uint8 [N, 28, 28])", images_path.string(),
                io_detail::scalar_type_name(images.scalar_type()), shape_string(images.sizes()));
  require_input(labels.scalar_type() == torch::kByte && labels.dim() == 1,
                "{}: labels have type {} and shape {} (expected uint8 [N])", labels_path.string(),
                io_detail::scalar_type_name(labels.scalar_type()), shape_string(labels.sizes()));
  require_input(labels.size(0) == images.size(0), "{}: {} labels but {} has {} images (expected one label per image)",
                labels_path.string(), labels.size(0), images_path.filename().string(), images.size(0));
  require_input(images.size(0) > 0, "{}: no images (expected at least one)", images_path.string());
  Split s;
  s.y = labels.to(torch::kLong);
  check_label_range(s.y, 10, labels_path.string(), " (the IDX image sets have 10 classes)");
  s.x = images.to(torch::kFloat).div_(255.0f).unsqueeze(1).contiguous();
  return s;
}

fs::path mnist_dir(const std::optional<fs::path>& dir) {
  if (dir) return *dir;
  if (const char* env = std::getenv("TTTLAB_MNIST_DIR"); env != nullptr && *env != '\0') return fs::path(env);
  return fs::path(TTTLAB_DEFAULT_SOURCE_DIR) / "third_party" / "mnist";
}

// ---- embedding folder ----

// The neighbour search computes squared L2 distances in float32, and |a - b|^2 <= (|a| + |b|)^2 <=
// 4 max|x|^2 <= 4 d max|x_ij|^2. Values up to sqrt(FLT_MAX) / (2 sqrt(d)) therefore keep every distance
// finite; beyond it a distance can become inf and FAISS returns fewer neighbours than asked for.
double max_distance_safe_value(int64_t d) {
  return std::sqrt(static_cast<double>(std::numeric_limits<float>::max())) / (2.0 * std::sqrt(static_cast<double>(d)));
}

// Throws if a value of x (finite float32 [N, d]) is too large for float32 squared distances.
void check_distance_range(const torch::Tensor& x, const std::string& what) {
  const double bound = max_distance_safe_value(x.size(1));
  const torch::Tensor too_large = x.abs() > bound;
  if (!too_large.any().item<bool>()) return;
  const torch::Tensor at = too_large.nonzero();  // row-major order
  const int64_t row = at[0][0].item<int64_t>(), col = at[0][1].item<int64_t>();
  throw_input_error(
      "{}: row {} column {} has value {:.6g}, too large for float32 squared distances (expected "
      "|x| <= sqrt(3.4e38) / (2 sqrt(d)) = {:.3g} for d = {})",
      what, row, col, x[row][col].item<double>(), bound, x.size(1));
}

// 1 + the largest training label is the class count, and the head and every TTT batch hold C rows
// per feature: a corrupt label must not make it astronomically large.
constexpr int64_t kMaxClasses = 1'000'000;

// Where the arrays of an embedding data set come from: the .npy files of a folder, or the members of
// an .npz archive of the same names. Messages name an array by describe(file).
class ArraySource {
 public:
  virtual ~ArraySource() = default;
  virtual bool has(const std::string& file) const = 0;
  virtual torch::Tensor read(const std::string& file) const = 0;
  virtual std::string describe(const std::string& file) const = 0;
  [[noreturn]] virtual void throw_missing(const std::string& file) const = 0;
};

constexpr const char* kLayout =
    "train_features.npy, train_labels.npy, test_features.npy, test_labels.npy and optionally val_features.npy + "
    "val_labels.npy";

class FolderArrays : public ArraySource {
 public:
  explicit FolderArrays(fs::path dir) : dir_(std::move(dir)) {}
  bool has(const std::string& file) const override {
    std::error_code ec;
    return fs::exists(dir_ / file, ec);
  }
  torch::Tensor read(const std::string& file) const override { return read_npy(dir_ / file); }
  std::string describe(const std::string& file) const override { return (dir_ / file).string(); }
  void throw_missing(const std::string& file) const override {
    throw_input_error("{}: no such file (an embedding folder holds {})", describe(file), kLayout);
  }

 private:
  fs::path dir_;
};

class NpzArrays : public ArraySource {
 public:
  explicit NpzArrays(const fs::path& path) : archive_(path) {}
  bool has(const std::string& file) const override { return archive_.has(file); }
  torch::Tensor read(const std::string& file) const override { return archive_.read(file); }
  std::string describe(const std::string& file) const override { return archive_.describe(file); }
  void throw_missing(const std::string& file) const override {
    throw_input_error(
        "{}: no such member (an .npz of embeddings holds {}; this one holds {})", describe(file), kLayout,
        archive_.members().empty() ? std::string("nothing") : fmt::format("{}", fmt::join(archive_.members(), ", ")));
  }

 private:
  NpzArchive archive_;
};

// Arrays already in memory (the Python package), named by the embedding folder's file names, so that
// messages read as they would for the same arrays written to a folder (less the folder's path).
class TensorArrays : public ArraySource {
 public:
  explicit TensorArrays(const std::map<std::string, torch::Tensor>& arrays) : arrays_(arrays) {}
  bool has(const std::string& file) const override {
    const auto it = arrays_.find(file);
    return it != arrays_.end() && it->second.defined();
  }
  torch::Tensor read(const std::string& file) const override { return arrays_.at(file); }
  std::string describe(const std::string& file) const override { return file; }
  void throw_missing(const std::string& file) const override {
    throw_input_error("{}: missing (embedding data holds {})", describe(file), kLayout);
  }

 private:
  const std::map<std::string, torch::Tensor>& arrays_;
};

struct FolderSplit {
  Split split;  // split.y is undefined for a test set without labels (TestLabels::Optional)
  std::string features_name, labels_name;
};

FolderSplit load_folder_split(const ArraySource& source, const std::string& prefix, bool labels_optional = false) {
  FolderSplit fsplit;
  const std::string features_file = prefix + "_features.npy", labels_file = prefix + "_labels.npy";
  fsplit.features_name = source.describe(features_file);
  fsplit.labels_name = source.describe(labels_file);
  const std::string& fp = fsplit.features_name;
  const std::string& lp = fsplit.labels_name;
  if (!source.has(features_file)) source.throw_missing(features_file);
  const bool has_labels = source.has(labels_file);
  if (!has_labels && !labels_optional) source.throw_missing(labels_file);
  torch::Tensor x = source.read(features_file);
  require_input(x.dim() == 2, "{}: features have shape {} (expected 2-D [N, d])", fp, shape_string(x.sizes()));
  require_input(is_float_type(x.scalar_type()), "{}: features have dtype {} (expected float32, float16 or float64)", fp,
                io_detail::scalar_type_name(x.scalar_type()));
  torch::Tensor y;
  if (has_labels) {
    y = source.read(labels_file);
    require_input(y.dim() == 1, "{}: labels have shape {} (expected 1-D [N])", lp, shape_string(y.sizes()));
    require_input(is_int_type(y.scalar_type()), "{}: labels have dtype {} (expected int64 or int32)", lp,
                  io_detail::scalar_type_name(y.scalar_type()));
    require_input(y.size(0) == x.size(0), "{}: {} labels but {} has {} rows (expected one label per row)", lp,
                  y.size(0), features_file, x.size(0));
  }
  require_input(x.size(0) > 0, "{}: the {} set is empty (0 rows; expected at least one example)", fp, prefix);
  require_input(x.size(1) > 0, "{}: features have width 0 (expected d >= 1)", fp);
  check_finite_rows(x, fp);
  if (x.scalar_type() == torch::kDouble) {
    const torch::Tensor f = x.to(torch::kFloat);
    if (const auto first = first_non_finite(f)) {  // finite as float64, so too large for float32
      const auto [row, col] = *first;
      throw_input_error("{}: row {} column {} has value {} which does not fit in float32 (expected |x| < 3.4e38)", fp,
                        row, col, x[row][col].item<double>());
    }
    x = f;
  } else {
    x = x.to(torch::kFloat);
  }
  check_distance_range(x, fp);
  fsplit.split.x = x.contiguous();
  if (has_labels) {
    y = y.to(torch::kLong);
    // Negative labels only: the upper bound (1 + the largest training label) is checked by the caller.
    check_label_range(y, std::numeric_limits<int64_t>::max(), lp, "");
    fsplit.split.y = y.contiguous();
  }
  return fsplit;
}

// An embedding data set from `source`, named `name` ("npy:<dir or file>").
Dataset load_embedding_arrays(const ArraySource& source, const std::string& name, TestLabels test_labels) {
  const FolderSplit train = load_folder_split(source, "train");
  const FolderSplit test = load_folder_split(source, "test", test_labels == TestLabels::Optional);
  std::optional<FolderSplit> val;
  const bool has_vf = source.has("val_features.npy"), has_vl = source.has("val_labels.npy");
  if (has_vf != has_vl) {
    const std::string missing = has_vf ? "val_labels.npy" : "val_features.npy";
    const std::string present = has_vf ? "val_features.npy" : "val_labels.npy";
    throw_input_error("{}: no such file ({} exists; give both val files or neither)", source.describe(missing),
                      present);
  }
  if (has_vf) val = load_folder_split(source, "val");

  const int64_t d = train.split.x.size(1);
  const int64_t largest_label = train.split.y.max().item<int64_t>();
  if (largest_label >= kMaxClasses) {
    const int64_t row = train.split.y.argmax().item<int64_t>();
    // largest_label + 1 cannot overflow: load_folder_split refused a label of INT64_MAX already.
    throw_input_error("{}: row {} has label {}, which would make {} classes (expected labels 0..C-1 with C <= {})",
                      train.labels_name, row, largest_label, largest_label + 1, kMaxClasses);
  }
  const int64_t num_classes = largest_label + 1;
  std::vector<const FolderSplit*> others{&test};
  if (val) others.push_back(&*val);
  for (const FolderSplit* s : others) {
    require_input(s->split.x.size(1) == d,
                  "{}: features have width {} but train_features.npy has width {} (expected the same d)",
                  s->features_name, s->split.x.size(1), d);
    if (!s->split.y.defined()) continue;  // an unlabelled test set
    check_label_range(
        s->split.y, num_classes, s->labels_name,
        fmt::format(" of the training labels (num_classes = 1 + largest label in train_labels.npy = {})", num_classes));
  }

  Dataset ds;
  ds.name = name;
  ds.train = train.split;
  ds.test = test.split;
  if (val) ds.val = val->split;
  ds.num_classes = num_classes;
  ds.is_images = false;
  return ds;
}

}  // namespace

void validate_split(const Split& split, int64_t num_classes, const std::string& what) {
  require_input(split.x.defined() && split.y.defined(), "{}: features or labels are missing", what);
  require_input(split.y.dim() == 1 && split.y.scalar_type() == torch::kLong,
                "{}: labels are {} {} (expected int64 [N])", what, io_detail::scalar_type_name(split.y.scalar_type()),
                shape_string(split.y.sizes()));
  require_input(split.x.dim() >= 2 && split.x.scalar_type() == torch::kFloat,
                "{}: features are {} {} (expected float32 [N, d] or [N, C, H, W])", what,
                io_detail::scalar_type_name(split.x.scalar_type()), shape_string(split.x.sizes()));
  require_input(split.x.size(0) == split.y.size(0), "{}: {} feature rows but {} labels (expected one label per row)",
                what, split.x.size(0), split.y.size(0));
  require_input(split.y.size(0) > 0, "{}: empty (0 rows; expected at least one)", what);
  require_input(split.x[0].numel() > 0, "{}: features have width 0 (expected at least one value per row)", what);
  require_input(num_classes >= 1, "{}: num_classes is {} (expected at least 1)", what, num_classes);
  check_finite_rows(split.x, what);
  check_label_range(split.y, num_classes, what, fmt::format(" (num_classes = {})", num_classes));
}

namespace {

Dataset load_idx_image_set(const std::string& name, const fs::path& dir, const std::string& train_images,
                           const std::string& train_labels, const std::string& test_images,
                           const std::string& test_labels, const std::string& where) {
  Dataset ds;
  ds.name = name;
  ds.train = load_idx_pair(dir / train_images, dir / train_labels, where);
  ds.test = load_idx_pair(dir / test_images, dir / test_labels, where);
  ds.num_classes = 10;
  ds.is_images = true;
  return ds;
}

}  // namespace

Dataset load_fashion_mnist(const fs::path& dir) {
  return load_idx_image_set("fashion-mnist", dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                            "install the Debian package dataset-fashion-mnist (scripts/setup does)");
}

Dataset load_mnist(std::optional<fs::path> dir) {
  const fs::path root = mnist_dir(dir);
  return load_idx_image_set("mnist", root, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                            fmt::format("expected the four MNIST IDX files in {}; run scripts/setup, or set "
                                        "TTTLAB_MNIST_DIR to a folder holding them",
                                        root.string()));
}

Dataset load_embedding_folder(const fs::path& dir, TestLabels test_labels) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw_input_error("{}: no such directory (expected an embedding folder)", dir.string());
  require_input(fs::is_directory(dir, ec), "{}: not a directory (expected an embedding folder)", dir.string());
  return load_embedding_arrays(FolderArrays(dir), "npy:" + dir.string(), test_labels);
}

Dataset load_embedding_npz(const fs::path& path, TestLabels test_labels) {
  return load_embedding_arrays(NpzArrays(path), "npy:" + path.string(), test_labels);
}

Dataset load_embedding_tensors(const std::map<std::string, torch::Tensor>& arrays, const std::string& name,
                               TestLabels test_labels) {
  return load_embedding_arrays(TensorArrays(arrays), name, test_labels);
}

void write_embedding_folder(const fs::path& dir, const Dataset& features) {
  auto check = [&](const Split& s, const char* which, bool labels_optional) {
    const bool labels_ok =
        s.y.defined() ? s.y.dim() == 1 && s.x.defined() && s.x.size(0) == s.y.size(0) : labels_optional;
    require_input(s.x.defined() && s.x.dim() == 2 && labels_ok,
                  "{}: cannot write the {} split as an embedding folder (expected features [N, d] and labels [N])",
                  dir.string(), which);
  };
  check(features.train, "train", false);
  check(features.test, "test", true);  // an unlabelled test set is written without test_labels.npy
  if (features.val) check(*features.val, "val", false);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_input_error("{}: cannot create the directory: {}", dir.string(), ec.message());
  auto write = [&](const Split& s, const std::string& prefix) {
    write_npy(dir / (prefix + "_features.npy"), s.x.to(torch::kFloat));
    if (s.y.defined()) {
      write_npy(dir / (prefix + "_labels.npy"), s.y.to(torch::kLong));
    } else {
      fs::remove(dir / (prefix + "_labels.npy"), ec);  // labels of an earlier export would not match
    }
  };
  write(features.train, "train");
  write(features.test, "test");
  if (features.val) {
    write(*features.val, "val");
  } else {
    fs::remove(dir / "val_features.npy", ec);
    fs::remove(dir / "val_labels.npy", ec);
  }
}

Dataset load_dataset(const std::string& spec, TestLabels test_labels) {
  if (spec == "fashion-mnist") {
    // $TTTLAB_FASHION_MNIST_DIR: the same four files elsewhere (a machine without the Debian package).
    const char* env = std::getenv("TTTLAB_FASHION_MNIST_DIR");
    return env != nullptr && *env != '\0' ? load_fashion_mnist(env) : load_fashion_mnist();
  }
  if (spec == "mnist") return load_mnist();
  if (spec.rfind("lrh:", 0) == 0) return load_lrh_dataset(spec);
  std::error_code ec;
  if (spec.rfind("npy:", 0) == 0) {
    const std::string path = spec.substr(4);
    require_input(!path.empty(), "{}: missing directory after 'npy:' (expected npy:DIR or npy:FILE.npz)", spec);
    // A file is an .npz archive; anything else is read (and its absence reported) as a folder.
    if (fs::is_regular_file(path, ec)) return load_embedding_npz(path, test_labels);
    return load_embedding_folder(path, test_labels);
  }
  if (!spec.empty() && fs::is_directory(spec, ec)) return load_embedding_folder(spec, test_labels);
  if (spec.size() > 4 && spec.compare(spec.size() - 4, 4, ".npz") == 0 && fs::is_regular_file(spec, ec)) {
    return load_embedding_npz(spec, test_labels);
  }
  throw_input_error(
      "{}: unknown data set (expected fashion-mnist, mnist, npy:DIR, npy:FILE.npz, lrh:KEY=VALUE,..., or an existing "
      "embedding folder or .npz file)",
      spec.empty() ? std::string("''") : spec);
}

}  // namespace tttlab
