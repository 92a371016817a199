#pragma once
// What every check that two local-fit paths agree shares (tests/ttt, tests/gpu and the TTT
// benchmarks): one seeded random problem and one way to compare results. Header-only: the library
// itself never uses it.
#include <cmath>
#include <cstdint>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "tttlab/models/linear_head.hpp"
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab {

struct TttProblemSpec {
  int64_t n = 300;  // training rows
  int64_t m = 13;   // test points
  int64_t d = 8;    // feature width
  int64_t c = 5;    // classes
  int64_t k = 20;   // neighbours per test point
  uint64_t seed = 7;
  torch::ScalarType dtype = torch::kFloat;  // of the features and the head
  torch::Device device = torch::kCPU;       // where the tensors are put (drawn on the CPU either way)
  // Features are feature_scale * N(0, 1); 1/sqrt(d) keeps logits of order one at large d.
  double feature_scale = 1.0;
  double head_scale = 0.3, bias_scale = 0.1;  // the global head: scale * N(0, 1)
  // Labels uniform at random, or the argmax of a random linear teacher (learnable, like real data).
  bool teacher_labels = false;
  // Neighbours: the exact k nearest by L2 (float64 brute force, ties by index), or rows drawn at
  // random (the engine does not care how they were found; cheap at benchmark sizes).
  bool nearest_neighbors = true;
};

struct TttProblem {
  LinearHead head;
  LocalFitData data;
};

// Every number is drawn in float64 from a generator of its own seeded with spec.seed (the global
// torch seed is left alone), then cast: the float32 and float64 problems of one seed are one problem.
inline TttProblem make_ttt_problem(const TttProblemSpec& spec) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(spec.seed);
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  const auto i64 = torch::TensorOptions().dtype(torch::kLong);
  const auto train_x = spec.feature_scale * at::randn({spec.n, spec.d}, gen, f64);
  const auto test_x = spec.feature_scale * at::randn({spec.m, spec.d}, gen, f64);
  torch::Tensor train_y, test_y;
  if (spec.teacher_labels) {
    const auto teacher = at::randn({spec.c, spec.d}, gen, f64);
    train_y = train_x.matmul(teacher.t()).argmax(1);
    test_y = test_x.matmul(teacher.t()).argmax(1);
  } else {
    train_y = at::randint(spec.c, {spec.n}, gen, i64);
    test_y = at::randint(spec.c, {spec.m}, gen, i64);
  }
  torch::Tensor neighbors;
  if (spec.nearest_neighbors) {
    // Squared distances by the expansion |a|^2 - 2ab + |b|^2 in float64; a stable sort keeps ties
    // in index order, as the neighbour indexes do.
    const auto dist = test_x.pow(2).sum(1, true) - 2 * test_x.matmul(train_x.t()) + train_x.pow(2).sum(1);
    neighbors = std::get<1>(dist.sort(/*stable=*/true, 1, /*descending=*/false)).slice(1, 0, spec.k).contiguous();
  } else {
    neighbors = at::randint(spec.n, {spec.m, spec.k}, gen, i64);
  }
  const auto weight = spec.head_scale * at::randn({spec.c, spec.d}, gen, f64);
  const auto bias = spec.bias_scale * at::randn({spec.c}, gen, f64);
  const auto as = torch::TensorOptions().dtype(spec.dtype).device(spec.device);
  TttProblem p;
  p.data.train_x = train_x.to(as);
  p.data.train_y = train_y.to(spec.device);
  p.data.test_x = test_x.to(as);
  p.data.test_y = test_y;  // labels only score predictions, on the CPU
  p.data.neighbors = neighbors.to(spec.device);
  p.head.weight = weight.to(as);
  p.head.bias = bias.to(as);
  return p;
}

// max |a - ref| / max |ref|, in float64: one number for "how far from the reference", insensitive to
// the entries of ref that are near zero (where an element-wise relative error would explode).
inline double max_relative_difference(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto a64 = a.to(torch::kCPU, torch::kDouble), ref64 = ref.to(torch::kCPU, torch::kDouble);
  return (a64 - ref64).abs().max().item<double>() / ref64.abs().max().item<double>();
}

}  // namespace tttlab
