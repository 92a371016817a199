#pragma once
// Synthetic linear-representation worlds (the paper's §5 model of data, Appendix B-C): a sparse
// concept space Φ(x) ∈ R^d1 with s active concepts per point, superimposed into a smaller feature
// space Ψ(x) = P·Φ(x) ∈ R^d2 whose map P has columns drawn uniformly from the unit sphere (Definition 7,
// generalised to s > 1), and a ground truth linear in Φ: regression y = <Φ, w*> + σ·ε, or C classes
// with label = argmax_c (W*·Φ)_c + σ·ε_c.
//
// Cluster structure, so that neighbours share concepts: the d1 concepts are split into topics of
// `topic_size` concepts (a random partition; floor(d1 / topic_size) topics, leftover concepts belong
// to none). A point picks a topic uniformly, then each of its s active concepts comes with probability
// `in_topic` from its topic's support and otherwise from the concepts outside it (all distinct).
// Active values are uniform in [0.5, 1.5]. Definition 7 is the case s = 1, topic_size = 1, in_topic = 1
// with values 1, w* = 1 and σ = 0 (theory/prop8 uses it through draw_feature_map).
//
// Everything is deterministic from the seed and independent of the machine and library version: the
// world uses its own generator (splitmix64-seeded mt19937_64, Box-Muller normals) and plain loops,
// one independent stream per part (map, ground truth, topics, train, test), so e.g. changing the
// test size leaves the training set as it was.
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include <torch/torch.h>

#include "tttlab/data/dataset.hpp"

namespace tttlab {

struct LrhWorldSpec {
  int64_t d1 = 1024;       // concepts
  int64_t d2 = 64;         // features
  int64_t s = 4;           // active concepts per point
  int64_t classes = 10;    // >= 2: classification; 0: regression
  int64_t topic_size = 0;  // concepts per topic; 0: 2·s
  double in_topic = 1.0;   // probability that an active concept comes from the point's topic
  double noise = 0.1;      // σ: regression noise, or logit noise for classification
  int64_t train = 10000, test = 1000;
  uint64_t seed = 0;

  int64_t effective_topic_size() const { return topic_size > 0 ? topic_size : 2 * s; }
  int64_t topics() const { return d1 / effective_topic_size(); }
  // Throws InputError naming the field when a value is out of range.
  void validate() const;
  // "lrh:d1=...,d2=...,s=...,classes=...,topic_size=...,in_topic=...,noise=...,train=...,test=...,seed=..."
  std::string to_string() const;
};

// Parses "lrh:key=value,..." (or the part after "lrh:"); keys are the fields above, each at most once,
// unspecified ones keep their defaults. Throws InputError on unknown keys, bad numbers, duplicate
// keys and out-of-range values.
LrhWorldSpec parse_lrh_spec(const std::string& spec);

// The sample of one split. Φ is stored sparsely: row n has concepts concept_ids[n, :] (sorted
// ascending) with values concept_values[n, :].
struct LrhSample {
  torch::Tensor concept_ids;     // int64 [N, s]
  torch::Tensor concept_values;  // float64 [N, s]
  torch::Tensor topic;           // int64 [N]
  torch::Tensor psi;             // float64 [N, d2] = P·Φ
  torch::Tensor clean;           // regression: float64 [N] = <Φ, w*>; classification: float64 [N, C] = W*·Φ
  torch::Tensor target;          // regression: float64 [N] (clean + noise); classification: int64 [N] labels
  int64_t size() const { return topic.size(0); }
  torch::Tensor phi_dense(int64_t d1) const;  // float64 [N, d1]
};

struct LrhWorld {
  LrhWorldSpec spec;
  torch::Tensor feature_map;    // P: float64 [d2, d1], unit-norm columns
  torch::Tensor ground_truth;   // regression: w* float64 [d1]; classification: W* float64 [C, d1]
  torch::Tensor topic_support;  // int64 [topics, topic_size], each row sorted
  LrhSample train, test;
};

// A random number source that is the same on every machine (std::mt19937_64 is fully specified; the
// uniform and normal transforms are our own, not the implementation-defined std distributions).
class PortableRng {
 public:
  explicit PortableRng(uint64_t seed, uint64_t stream = 0);
  uint64_t next() { return engine_(); }
  double uniform();            // [0, 1), 53 bits
  double normal();             // N(0, 1), Box-Muller
  uint64_t below(uint64_t n);  // uniform in 0..n-1 (rejection, no modulo bias)

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// d2 x d1 matrix whose columns are independent and uniform on the unit sphere S^{d2-1}
// (normalised Gaussian vectors), float64.
torch::Tensor draw_feature_map(int64_t d2, int64_t d1, PortableRng& rng);

LrhWorld make_lrh_world(const LrhWorldSpec& spec);

// A classification world as a data set: features Ψ (float32), labels, name = spec.to_string().
Dataset lrh_dataset(const LrhWorld& world);
Dataset load_lrh_dataset(const std::string& spec);

// Writes the world as an embedding folder (train/test features and labels, loadable with --data DIR)
// and, beside it, its ground truth: {train,test}_concept_ids.npy (int64 [N, s]),
// {train,test}_concept_values.npy (float64 [N, s]), {train,test}_topics.npy (int64 [N]),
// feature_map.npy (P, float64 [d2, d1]), ground_truth.npy (W* [C, d1] or w* [d1], float64),
// topic_support.npy (int64 [topics, topic_size]) and world.json (the spec), world.json last.
// Regression worlds write {train,test}_targets.npy (float64) instead of the labels.
void export_lrh_world(const LrhWorld& world, const std::filesystem::path& dir);

}  // namespace tttlab
