#include "tttlab/data/lrh_world.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <numbers>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/eval/bootstrap.hpp"
#include "tttlab/io/npy.hpp"

namespace fs = std::filesystem;

namespace tttlab {

// ---------------------------------------------------------------------------------------------------
// Spec

void LrhWorldSpec::validate() const {
  const std::string w = to_string();
  require_input(d1 >= 1, "{}: d1={} (expected >= 1 concepts)", w, d1);
  require_input(d2 >= 1, "{}: d2={} (expected >= 1 features)", w, d2);
  require_input(s >= 1 && s <= d1, "{}: s={} (expected 1 <= s <= d1={})", w, s, d1);
  require_input(classes == 0 || classes >= 2, "{}: classes={} (expected 0 for regression or >= 2)", w, classes);
  require_input(topic_size >= 0, "{}: topic_size={} (expected >= 1, or 0 for 2*s)", w, topic_size);
  const int64_t m = effective_topic_size();
  require_input(m <= d1, "{}: topic_size={} (expected <= d1={})", w, m, d1);
  require_input(in_topic >= 0 && in_topic <= 1, "{}: in_topic={} (expected a probability in [0, 1])", w, in_topic);
  require_input(in_topic == 0 || m >= s,
                "{}: topic_size={} is smaller than s={} (a point needs room for its concepts in its topic)", w, m, s);
  require_input(in_topic == 1 || d1 - m >= s,
                "{}: d1={} leaves fewer than s={} concepts outside a topic of {} (in_topic < 1 needs them)", w, d1, s,
                m);
  require_input(std::isfinite(noise) && noise >= 0, "{}: noise={} (expected a finite value >= 0)", w, noise);
  require_input(train >= 1, "{}: train={} (expected >= 1 points)", w, train);
  require_input(test >= 1, "{}: test={} (expected >= 1 points)", w, test);
  require_input(d1 <= (int64_t{1} << 24) && d2 <= (int64_t{1} << 16) && s <= 4096 && classes <= 100000 &&
                    train <= 10'000'000 && test <= 10'000'000,
                "{}: sizes too large (limits: d1 <= 2^24, d2 <= 65536, s <= 4096, classes <= 100000, "
                "train/test <= 10^7)",
                w);
  require_input(static_cast<double>(train + test) * static_cast<double>(std::max(d2, classes)) <= 1.0e9,
                "{}: (train+test)*max(d2, classes)={} (the features would exceed 8 GB; expected <= 1e9)", w,
                static_cast<double>(train + test) * static_cast<double>(std::max(d2, classes)));
  require_input(static_cast<double>(d2) * static_cast<double>(d1) <= 1.0e9,
                "{}: d2*d1={} (the feature map would exceed 8 GB; expected <= 1e9)", w, d2 * d1);
}

std::string LrhWorldSpec::to_string() const {
  return fmt::format("lrh:d1={},d2={},s={},classes={},topic_size={},in_topic={},noise={},train={},test={},seed={}", d1,
                     d2, s, classes, effective_topic_size(), in_topic, noise, train, test, seed);
}

namespace {

template <typename Int>
Int parse_integer(const std::string& spec, const std::string& key, const std::string& text) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  require_input(ec == std::errc() && end == text.data() + text.size() && !text.empty(),
                "{}: {}='{}' (expected an integer)", spec, key, text);
  return value;
}

double parse_real(const std::string& spec, const std::string& key, const std::string& text) {
  char* end = nullptr;
  const double value = text.empty() ? 0.0 : std::strtod(text.c_str(), &end);
  require_input(!text.empty() && end == text.c_str() + text.size() && std::isfinite(value),
                "{}: {}='{}' (expected a finite number)", spec, key, text);
  return value;
}

}  // namespace

LrhWorldSpec parse_lrh_spec(const std::string& spec) {
  std::string body = spec;
  if (body.rfind("lrh:", 0) == 0) body = body.substr(4);
  LrhWorldSpec out;
  std::set<std::string> seen;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t comma = body.find(',', pos);
    if (comma == std::string::npos) comma = body.size();
    const std::string item = body.substr(pos, comma - pos);
    pos = comma + 1;
    const size_t eq = item.find('=');
    require_input(eq != std::string::npos && eq > 0, "{}: '{}' (expected key=value, e.g. d1=4096)", spec, item);
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    require_input(seen.insert(key).second, "{}: {} given twice", spec, key);
    if (key == "d1")
      out.d1 = parse_integer<int64_t>(spec, key, value);
    else if (key == "d2")
      out.d2 = parse_integer<int64_t>(spec, key, value);
    else if (key == "s")
      out.s = parse_integer<int64_t>(spec, key, value);
    else if (key == "classes")
      out.classes = parse_integer<int64_t>(spec, key, value);
    else if (key == "topic_size")
      out.topic_size = parse_integer<int64_t>(spec, key, value);
    else if (key == "in_topic")
      out.in_topic = parse_real(spec, key, value);
    else if (key == "noise")
      out.noise = parse_real(spec, key, value);
    else if (key == "train")
      out.train = parse_integer<int64_t>(spec, key, value);
    else if (key == "test")
      out.test = parse_integer<int64_t>(spec, key, value);
    else if (key == "seed")
      out.seed = parse_integer<uint64_t>(spec, key, value);
    else
      throw_input_error(
          "{}: unknown key '{}' (expected d1, d2, s, classes, topic_size, in_topic, noise, train, "
          "test, seed)",
          spec, key);
  }
  out.validate();
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Random numbers

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Independent streams of one world.
enum Stream : uint64_t { kMapStream = 1, kTruthStream = 2, kTopicStream = 3, kTrainStream = 4, kTestStream = 5 };

}  // namespace

PortableRng::PortableRng(uint64_t seed, uint64_t stream)
    : engine_(splitmix64(splitmix64(seed) ^ splitmix64(stream * 0x632BE59BD9B4E019ULL + 17))) {}

double PortableRng::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double PortableRng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1;
  do u1 = uniform();
  while (u1 <= 0.0);
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double a = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(a);
  has_spare_ = true;
  return r * std::cos(a);
}

uint64_t PortableRng::below(uint64_t n) { return uniform_index(n, engine_); }

torch::Tensor draw_feature_map(int64_t d2, int64_t d1, PortableRng& rng) {
  auto p = torch::empty({d2, d1}, torch::kDouble);
  auto a = p.accessor<double, 2>();
  std::vector<double> column(static_cast<size_t>(d2));
  for (int64_t j = 0; j < d1; ++j) {
    double norm2 = 0;
    do {
      norm2 = 0;
      for (auto& v : column) {
        v = rng.normal();
        norm2 += v * v;
      }
    } while (norm2 == 0.0);
    const double inv = 1.0 / std::sqrt(norm2);
    for (int64_t i = 0; i < d2; ++i) a[i][j] = column[static_cast<size_t>(i)] * inv;
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------
// The world

torch::Tensor LrhSample::phi_dense(int64_t d1) const {
  const int64_t n = size(), s = concept_ids.size(1);
  auto phi = torch::zeros({n, d1}, torch::kDouble);
  auto a = phi.accessor<double, 2>();
  auto ids = concept_ids.accessor<int64_t, 2>();
  auto vals = concept_values.accessor<double, 2>();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < s; ++j) a[r][ids[r][j]] = vals[r][j];
  return phi;
}

namespace {

// Draws `count` points: topic, active concepts (distinct, sorted), values, Ψ, ground truth and targets.
LrhSample draw_sample(const LrhWorld& w, int64_t count, PortableRng& rng) {
  const LrhWorldSpec& spec = w.spec;
  const int64_t s = spec.s, d1 = spec.d1, d2 = spec.d2, m = spec.effective_topic_size();
  const int64_t topics = spec.topics();
  const bool classify = spec.classes >= 2;
  const int64_t c = spec.classes;

  LrhSample out;
  out.concept_ids = torch::empty({count, s}, torch::kLong);
  out.concept_values = torch::empty({count, s}, torch::kDouble);
  out.topic = torch::empty({count}, torch::kLong);
  out.psi = torch::zeros({count, d2}, torch::kDouble);
  out.clean = classify ? torch::zeros({count, c}, torch::kDouble) : torch::zeros({count}, torch::kDouble);
  out.target = classify ? torch::empty({count}, torch::kLong) : torch::empty({count}, torch::kDouble);

  auto ids = out.concept_ids.accessor<int64_t, 2>();
  auto vals = out.concept_values.accessor<double, 2>();
  auto topic = out.topic.accessor<int64_t, 1>();
  auto psi = out.psi.accessor<double, 2>();
  auto support = w.topic_support.accessor<int64_t, 2>();
  auto p = w.feature_map.accessor<double, 2>();
  const double* truth = w.ground_truth.data_ptr<double>();
  double* clean = out.clean.data_ptr<double>();

  std::vector<int64_t> chosen;
  std::vector<char> in_topic_set(static_cast<size_t>(d1), 0);
  std::vector<std::pair<int64_t, double>> active(static_cast<size_t>(s));
  for (int64_t r = 0; r < count; ++r) {
    const int64_t t = static_cast<int64_t>(rng.below(static_cast<uint64_t>(topics)));
    topic[r] = t;
    for (int64_t j = 0; j < m; ++j) in_topic_set[static_cast<size_t>(support[t][j])] = 1;
    chosen.clear();
    auto taken = [&](int64_t id) { return std::find(chosen.begin(), chosen.end(), id) != chosen.end(); };
    int64_t used_in_topic = 0;
    for (int64_t j = 0; j < s; ++j) {
      const bool from_topic = spec.in_topic >= 1.0 || (spec.in_topic > 0.0 && rng.uniform() < spec.in_topic);
      int64_t id;
      if (from_topic && used_in_topic < m) {
        do id = support[t][static_cast<int64_t>(rng.below(static_cast<uint64_t>(m)))];
        while (taken(id));
        ++used_in_topic;
      } else {
        do id = static_cast<int64_t>(rng.below(static_cast<uint64_t>(d1)));
        while (in_topic_set[static_cast<size_t>(id)] || taken(id));
      }
      chosen.push_back(id);
      active[static_cast<size_t>(j)] = {id, 0.5 + rng.uniform()};
    }
    for (int64_t j = 0; j < m; ++j) in_topic_set[static_cast<size_t>(support[t][j])] = 0;
    std::sort(active.begin(), active.end());
    for (int64_t j = 0; j < s; ++j) {
      const auto [id, v] = active[static_cast<size_t>(j)];
      ids[r][j] = id;
      vals[r][j] = v;
      for (int64_t i = 0; i < d2; ++i) psi[r][i] += p[i][id] * v;
      if (classify) {
        for (int64_t k = 0; k < c; ++k) clean[r * c + k] += truth[k * d1 + id] * v;
      } else {
        clean[r] += truth[id] * v;
      }
    }
    if (classify) {
      int64_t best = 0;
      double best_logit = -INFINITY;
      for (int64_t k = 0; k < c; ++k) {
        const double logit = clean[r * c + k] + spec.noise * rng.normal();
        if (logit > best_logit) best_logit = logit, best = k;
      }
      out.target.data_ptr<int64_t>()[r] = best;
    } else {
      out.target.data_ptr<double>()[r] = clean[r] + spec.noise * rng.normal();
    }
  }
  return out;
}

}  // namespace

LrhWorld make_lrh_world(const LrhWorldSpec& spec) {
  spec.validate();
  LrhWorld w;
  w.spec = spec;
  {
    PortableRng rng(spec.seed, kMapStream);
    w.feature_map = draw_feature_map(spec.d2, spec.d1, rng);
  }
  {
    PortableRng rng(spec.seed, kTruthStream);
    const int64_t rows = spec.classes >= 2 ? spec.classes : 1;
    w.ground_truth = torch::empty({rows, spec.d1}, torch::kDouble);
    double* g = w.ground_truth.data_ptr<double>();
    for (int64_t i = 0; i < rows * spec.d1; ++i) g[i] = rng.normal();
    if (spec.classes < 2) w.ground_truth = w.ground_truth.reshape({spec.d1});
  }
  {
    // A random partition of the concepts into topics (Fisher-Yates, then consecutive chunks).
    PortableRng rng(spec.seed, kTopicStream);
    std::vector<int64_t> perm(static_cast<size_t>(spec.d1));
    for (int64_t i = 0; i < spec.d1; ++i) perm[static_cast<size_t>(i)] = i;
    for (int64_t i = spec.d1 - 1; i > 0; --i)
      std::swap(perm[static_cast<size_t>(i)], perm[rng.below(static_cast<uint64_t>(i + 1))]);
    const int64_t m = spec.effective_topic_size(), topics = spec.topics();
    w.topic_support = torch::empty({topics, m}, torch::kLong);
    auto a = w.topic_support.accessor<int64_t, 2>();
    for (int64_t t = 0; t < topics; ++t) {
      std::sort(perm.begin() + t * m, perm.begin() + (t + 1) * m);
      for (int64_t j = 0; j < m; ++j) a[t][j] = perm[static_cast<size_t>(t * m + j)];
    }
  }
  {
    PortableRng rng(spec.seed, kTrainStream);
    w.train = draw_sample(w, spec.train, rng);
  }
  {
    PortableRng rng(spec.seed, kTestStream);
    w.test = draw_sample(w, spec.test, rng);
  }
  return w;
}

Dataset lrh_dataset(const LrhWorld& world) {
  require_input(world.spec.classes >= 2,
                "{}: a regression world (classes=0) has no labels; use classes >= 2 as a data set",
                world.spec.to_string());
  Dataset d;
  d.name = world.spec.to_string();
  d.num_classes = world.spec.classes;
  d.is_images = false;
  d.train = {world.train.psi.to(torch::kFloat), world.train.target.clone()};
  d.test = {world.test.psi.to(torch::kFloat), world.test.target.clone()};
  validate_split(d.train, d.num_classes, d.name + " train");
  validate_split(d.test, d.num_classes, d.name + " test");
  return d;
}

Dataset load_lrh_dataset(const std::string& spec) { return lrh_dataset(make_lrh_world(parse_lrh_spec(spec))); }

void export_lrh_world(const LrhWorld& world, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_input_error("{}: cannot create the directory: {}", dir.string(), ec.message());
  fs::remove(dir / "world.json", ec);  // written last: its presence marks a complete export
  const bool classify = world.spec.classes >= 2;
  if (classify) {
    write_embedding_folder(dir, lrh_dataset(world));
  } else {
    write_npy(dir / "train_features.npy", world.train.psi.to(torch::kFloat));
    write_npy(dir / "test_features.npy", world.test.psi.to(torch::kFloat));
    write_npy(dir / "train_targets.npy", world.train.target);
    write_npy(dir / "test_targets.npy", world.test.target);
  }
  for (const auto& [name, sample] : {std::pair<std::string, const LrhSample*>{"train", &world.train},
                                     std::pair<std::string, const LrhSample*>{"test", &world.test}}) {
    write_npy(dir / (name + "_concept_ids.npy"), sample->concept_ids);
    write_npy(dir / (name + "_concept_values.npy"), sample->concept_values);
    write_npy(dir / (name + "_topics.npy"), sample->topic);
  }
  // The test split's Φ dense as well ([M, d1]), the form `tttlab sae recovery --true-test-codes` reads.
  write_npy(dir / "test_codes.npy", world.test.phi_dense(world.spec.d1).to(torch::kFloat));
  write_npy(dir / "feature_map.npy", world.feature_map);
  write_npy(dir / "ground_truth.npy", world.ground_truth);
  write_npy(dir / "topic_support.npy", world.topic_support);
  const auto& s = world.spec;
  nlohmann::json j = {{"spec", s.to_string()},
                      {"d1", s.d1},
                      {"d2", s.d2},
                      {"s", s.s},
                      {"classes", s.classes},
                      {"topic_size", s.effective_topic_size()},
                      {"topics", s.topics()},
                      {"in_topic", s.in_topic},
                      {"noise", s.noise},
                      {"train", s.train},
                      {"test", s.test},
                      {"seed", s.seed},
                      {"phi",
                       "row n of Φ has value {split}_concept_values[n, j] at concept {split}_concept_ids[n, j]; "
                       "test_codes.npy: the test split's Φ, dense [M, d1]"},
                      {"psi", "features = Φ · feature_mapᵀ (Ψ = P·Φ), stored as float32"},
                      {"truth", classify ? "label = argmax_c (ground_truth · Φ)_c + noise·N(0, 1)"
                                         : "target = <Φ, ground_truth> + noise·N(0, 1)"}};
  write_text_atomically(dir / "world.json", j.dump(2) + "\n");
}

}  // namespace tttlab
