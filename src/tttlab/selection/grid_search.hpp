#pragma once
// Selection on validation data, never on test: TTT's k, steps and lr and majority vote's k are
// chosen by their accuracy on validation points whose neighbours come from the training set. The
// test split is not an argument, so nothing here can read it.
//
// Speed: the neighbours are searched once, at the largest k of the grids; every (k, lr) runs one
// batched TTT pass with steps = the grid's largest, recording the logits after each step count of
// the grid (Adam has no schedule, so the first s steps of that run are an s-step run). The grid
// costs |k| x |lr| passes, not |k| x |lr| x |steps|.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tttlab/data/dataset.hpp"
#include "tttlab/models/linear_head.hpp"
#include "tttlab/ttt/local_fit.hpp"

namespace tttlab {

struct SelectionGrid {
  std::vector<int64_t> ks{10, 20, 50, 100, 200};
  std::vector<int64_t> steps{0, 10, 25, 50, 100, 200};  // 0 (TTT = the global head) is always added
  std::vector<double> lrs{1e-3, 1e-2, 1e-1};
  std::vector<int64_t> majority_ks{1, 3, 5, 10, 20, 50, 100};
  int64_t max_points = 2000;      // validation points scored: a seeded random subset when there are more
  double holdout_fraction = 0.1;  // without a val split: this stratified fraction of train is held out

  // InputError for an empty list or a value out of range; k values above `num_train` included.
  void validate(int64_t num_train) const;
  std::vector<int64_t> steps_with_zero() const;  // sorted, unique, with 0
};

struct TttScore {
  int64_t k = 0, steps = 0;
  double lr = 0;
  double accuracy = 0, nll = 0;  // on the validation points
};

struct MajorityScore {
  int64_t k = 0;
  double accuracy = 0;
};

struct SelectionResult {
  std::string split;       // where the validation points come from, in words
  int64_t num_points = 0;  // validation points scored
  std::vector<TttScore> ttt;
  TttScore chosen_ttt;
  std::vector<MajorityScore> majority;
  MajorityScore chosen_majority;
  double seconds = 0;
};

// Scores the grid on `val` (neighbours among `train`, found with `index` on ttt.device) and chooses
// the best: highest accuracy, ties broken by lower NLL, then fewer steps, smaller k, smaller lr
// (majority vote: highest accuracy, then smaller k). `ttt` gives every other TTT setting (mode, Adam's
// betas, weight decay, device, memory). `seed` draws the subset of validation points.
SelectionResult select_on_validation(const LinearHead& head, const Split& train, const Split& val, int64_t num_classes,
                                     const SelectionGrid& grid, const LocalFitConfig& ttt, const std::string& index,
                                     uint64_t seed, const std::string& split_description);

// results.json's "selection": the grids, the split, every configuration's score and the choice.
nlohmann::json selection_json(const SelectionGrid& grid, const SelectionResult& result);

}  // namespace tttlab
