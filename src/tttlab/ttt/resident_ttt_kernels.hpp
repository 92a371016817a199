#pragma once
// The resident TTT kernel (resident_ttt_kernels.cu): all T full-batch Adam steps of B test points in
// one launch, each point's head W held in the shared memory of one thread-block cluster for the whole
// run, so that a step moves only Adam's two moments through global memory. The arithmetic of each
// step is the fused step's (fused_step_kernels.hpp), up to the order of the sums.
//
// Limits: C <= 1024 (clusters of up to 16 blocks of 64 classes), d a multiple of 4 with the W slice
// (64 d floats) and the buffers in one block's shared memory (d <= 576 on an H100), k <= 64 rows.
#include <cstdint>

#include <cuda_runtime_api.h>

#include "tttlab/ttt/fused_step_kernels.hpp"

namespace tttlab::cuda {

struct ResidentTttArgs {
  const float* w0;        // [C, d] the global head, shared by all points
  const float* b0;        // [C]
  const float* x;         // [B, rows, d] contiguous: each point's neighbours
  const int64_t* labels;  // label of row i of point b at labels[b * label_stride + i]
  int64_t label_stride;
  const float* query;     // [B, d] the test points
  float* m;               // [B, d, 64 G] zeros: W's first moments, transposed, classes padded
  float* v;               // [B, d, 64 G] zeros: second moments
  float* logits_out;      // [B, C] the adapted heads on their test points
  float* w_out;           // [B, C, d] adapted heads, or null
  float* b_out;           // [B, C], or null
  const AdamStepScalars* scalars;  // [steps] on the device: step t uses scalars[t - 1]
  int steps, rows, num_classes, dim;
  int64_t point0;  // set by the launcher
};

int resident_ttt_blocks_per_point(int64_t num_classes);

// True when the shape is within the limits above and this GPU can place such a cluster.
bool resident_ttt_fits(int64_t num_classes, int64_t dim, int64_t rows);

void launch_resident_ttt(const ResidentTttArgs& args, int64_t batch, cudaStream_t stream);

}  // namespace tttlab::cuda
