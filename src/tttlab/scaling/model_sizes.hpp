#pragma once
// The paper's MNIST model-scaling grid (E.4): ten LeNet sizes by parameter count, each with its
// global training (Table 3), TTT (Table 4) and majority-vote (Table 5) hyperparameters, and the
// FlexibleLeNet size_scale whose parameter count is closest to each.
#include <cstdint>
#include <vector>

namespace tttlab {

struct PaperModelSize {
  int64_t parameters;                 // the paper's parameter count
  double train_lr;                    // Table 3
  int64_t train_batch, train_epochs;
  double ttt_lr;                      // Table 4 (full-batch Adam on the k neighbours)
  int64_t ttt_steps, ttt_k;
  int64_t majority_k;                 // Table 5
};

const std::vector<PaperModelSize>& paper_model_sizes();  // ascending parameter counts
const PaperModelSize& paper_model_size(int64_t parameters);  // InputError if not in the table

// The size_scale s in [0.001, 4] (steps of 0.001) whose FlexibleLeNet has the parameter count
// closest to `parameters` (ties: the smaller s). The grid is fine enough that every count the
// rounding of the widths can give in that range is reached.
double size_scale_for_parameters(int64_t parameters, int64_t num_classes = 10, int64_t image_size = 28);

}  // namespace tttlab
