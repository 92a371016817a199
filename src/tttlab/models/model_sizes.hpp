#pragma once
// The paper's MNIST model-scaling grid (E.4): ten LeNet sizes by parameter count, each with its
// global training (Table 3), TTT (Table 4) and majority-vote (Table 5) hyperparameters, and the
// FlexibleLeNet size_scale whose parameter count is closest to each.
#include <cstdint>
#include <vector>

namespace tttlab {

struct PaperModelSize {
  int64_t parameters;  // the paper's parameter count
  double train_lr;     // Table 3
  int64_t train_batch, train_epochs;
  double ttt_lr;  // Table 4 (full-batch Adam on the k neighbours)
  int64_t ttt_steps, ttt_k;
  int64_t majority_k;  // Table 5
};

const std::vector<PaperModelSize>& paper_model_sizes();      // ascending parameter counts
const PaperModelSize& paper_model_size(int64_t parameters);  // InputError if not in the table

// The size_scale s in [0.001, 4] (steps of 0.001) whose FlexibleLeNet has the parameter count
// closest to `parameters` (ties: the smaller s). The grid is fine enough that every count the
// rounding of the widths can give in that range is reached.
double size_scale_for_parameters(int64_t parameters, int64_t num_classes = 10, int64_t image_size = 28);

// The MLP heads of E.6 on an embedding folder: Table 7's global training per hidden width (Adam, no
// weight decay, 50 epochs) and Table 8's TTT of the last layer on the hidden features (full batch on
// k = 100 neighbours, lr 5e-3, 50 steps), majority vote with k = 10 in the same space.
struct PaperMlpWidth {
  int64_t hidden;  // hidden units (the paper's parameter counts: 3.8e5 .. 6.1e6 on CLIP, d=512, C=1000)
  double train_lr;
  int64_t train_batch, train_epochs;
  double dropout;  // before the last layer
};
const std::vector<PaperMlpWidth>& paper_mlp_widths();  // ascending widths 250 .. 4000
// Table 7's row for `hidden`; for a width not in the table, the row of the nearest width (the
// widths are the only thing Table 7's settings depend on).
const PaperMlpWidth& paper_mlp_width(int64_t hidden);
struct PaperMlpTtt {
  int64_t k = 100, steps = 50;
  double lr = 5e-3;
  int64_t majority_k = 10;
};

}  // namespace tttlab
