// CUDA kernels of the fused TTT step (see fused_step_kernels.hpp for the contract).
#include <algorithm>
#include <cfloat>

#include "tttlab/ttt/fused_step_kernels.hpp"

namespace tttlab::cuda {

namespace {

constexpr int kWarp = 32;

__device__ __forceinline__ float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// One warp per row of C logits: max, sum of exponentials, then (p - onehot) / r written in place.
constexpr int kRowsPerBlock = 8;
__global__ void softmax_delta_kernel(float* __restrict__ logits, const int64_t* __restrict__ labels,
                                     int64_t total_rows, int rows_per_point, int num_classes,
                                     int64_t label_bstride) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  if (row >= total_rows) return;
  const int lane = threadIdx.x % kWarp;
  float* p = logits + row * num_classes;
  const int64_t label = labels[(row / rows_per_point) * label_bstride + row % rows_per_point];
  float mx = -FLT_MAX;
  for (int c = lane; c < num_classes; c += kWarp) mx = fmaxf(mx, p[c]);
  mx = warp_max(mx);
  float sum = 0.f;
  for (int c = lane; c < num_classes; c += kWarp) sum += expf(p[c] - mx);
  sum = warp_sum(sum);
  const float r = static_cast<float>(rows_per_point);
  for (int c = lane; c < num_classes; c += kWarp) {
    const float prob = expf(p[c] - mx) / sum;
    p[c] = (prob - (c == label ? 1.f : 0.f)) / r;
  }
}

// Adam on one element, in adam_update_'s order of operations (torch.optim.Adam's non-fused path).
__device__ __forceinline__ void adam_element(float& w, float& m, float& v, float g, const AdamStepScalars& s) {
  if (s.weight_decay != 0.f) g = g + s.weight_decay * w;
  m = m * s.beta1 + g * s.one_minus_beta1;
  v = v * s.beta2 + s.one_minus_beta2 * (g * g);
  const float denom = sqrtf(v) / s.sqrt_bc2 + s.eps;
  w = w + (-s.lr_over_bc1) * (m / denom);
}

// Tile of 64 classes x 64 dimensions per block of 16 x 16 threads; each thread owns the 4 x 4
// elements (ty + 16p, tx + 16q), so a warp touches 16 consecutive floats of two rows (whole
// 32-byte sectors). Rows of delta and x are staged through shared memory 16 at a time.
constexpr int kTile = 64, kThreadsSide = 16, kPer = kTile / kThreadsSide, kRowsChunk = 16;

__global__ void __launch_bounds__(kThreadsSide* kThreadsSide)
    grad_adam_kernel(const float* __restrict__ delta, const float* __restrict__ x, int64_t x_bstride,
                     float* __restrict__ w, float* __restrict__ w_m, float* __restrict__ w_v,
                     float* __restrict__ b, float* __restrict__ b_m, float* __restrict__ b_v, int64_t point0,
                     int rows, int num_classes, int dim, AdamStepScalars s) {
  __shared__ float s_delta[kRowsChunk][kTile];
  __shared__ float s_x[kRowsChunk][kTile];
  const int tid = threadIdx.x, tx = tid % kThreadsSide, ty = tid / kThreadsSide;
  const int64_t point = point0 + blockIdx.z;
  const int c0 = blockIdx.y * kTile, j0 = blockIdx.x * kTile;
  const float* dp = delta + point * rows * num_classes;
  const float* xp = x + point * x_bstride;

  float acc[kPer][kPer];
#pragma unroll
  for (int p = 0; p < kPer; ++p)
#pragma unroll
    for (int q = 0; q < kPer; ++q) acc[p][q] = 0.f;

  for (int i0 = 0; i0 < rows; i0 += kRowsChunk) {
    for (int e = tid; e < kRowsChunk * kTile; e += kThreadsSide * kThreadsSide) {
      const int i = e / kTile, col = e % kTile;
      const bool row_ok = i0 + i < rows;
      s_delta[i][col] = row_ok && c0 + col < num_classes ? dp[static_cast<int64_t>(i0 + i) * num_classes + c0 + col] : 0.f;
      s_x[i][col] = row_ok && j0 + col < dim ? xp[static_cast<int64_t>(i0 + i) * dim + j0 + col] : 0.f;
    }
    __syncthreads();
    const int chunk = min(kRowsChunk, rows - i0);
    for (int i = 0; i < chunk; ++i) {
      float a[kPer], bx[kPer];
#pragma unroll
      for (int p = 0; p < kPer; ++p) a[p] = s_delta[i][ty + kThreadsSide * p];
#pragma unroll
      for (int q = 0; q < kPer; ++q) bx[q] = s_x[i][tx + kThreadsSide * q];
#pragma unroll
      for (int p = 0; p < kPer; ++p)
#pragma unroll
        for (int q = 0; q < kPer; ++q) acc[p][q] = fmaf(a[p], bx[q], acc[p][q]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int p = 0; p < kPer; ++p) {
    const int c = c0 + ty + kThreadsSide * p;
    if (c >= num_classes) continue;
    const int64_t row_base = (point * num_classes + c) * static_cast<int64_t>(dim);
#pragma unroll
    for (int q = 0; q < kPer; ++q) {
      const int j = j0 + tx + kThreadsSide * q;
      if (j >= dim) continue;
      const int64_t idx = row_base + j;
      float wv = w[idx], mv = w_m[idx], vv = w_v[idx];
      adam_element(wv, mv, vv, acc[p][q], s);
      w[idx] = wv;
      w_m[idx] = mv;
      w_v[idx] = vv;
    }
  }

  // The bias: the first column of blocks also owns its classes' bias terms.
  if (blockIdx.x == 0 && tid < kTile && c0 + tid < num_classes) {
    const int c = c0 + tid;
    float g = 0.f;
    for (int i = 0; i < rows; ++i) g += dp[static_cast<int64_t>(i) * num_classes + c];
    const int64_t idx = point * num_classes + c;
    float bv = b[idx], mv = b_m[idx], vv = b_v[idx];
    adam_element(bv, mv, vv, g, s);
    b[idx] = bv;
    b_m[idx] = mv;
    b_v[idx] = vv;
  }
}

constexpr int64_t kMaxGridZ = 65535;

}  // namespace

void launch_softmax_delta(float* logits, const int64_t* labels, int64_t batch, int64_t rows_per_point,
                          int64_t num_classes, int64_t label_bstride, cudaStream_t stream) {
  const int64_t total = batch * rows_per_point;
  if (total == 0) return;
  const auto blocks = static_cast<unsigned>((total + kRowsPerBlock - 1) / kRowsPerBlock);
  softmax_delta_kernel<<<blocks, kRowsPerBlock * kWarp, 0, stream>>>(
      logits, labels, total, static_cast<int>(rows_per_point), static_cast<int>(num_classes), label_bstride);
}

void launch_grad_adam(const float* delta, const float* x, int64_t x_bstride, float* w, float* w_m, float* w_v,
                      float* b, float* b_m, float* b_v, int64_t batch, int64_t rows_per_point,
                      int64_t num_classes, int64_t dim, const AdamStepScalars& s, cudaStream_t stream) {
  const dim3 block(kThreadsSide * kThreadsSide);
  for (int64_t p0 = 0; p0 < batch; p0 += kMaxGridZ) {
    const auto pts = static_cast<unsigned>(std::min<int64_t>(kMaxGridZ, batch - p0));
    const dim3 grid(static_cast<unsigned>((dim + kTile - 1) / kTile),
                    static_cast<unsigned>((num_classes + kTile - 1) / kTile), pts);
    grad_adam_kernel<<<grid, block, 0, stream>>>(delta, x, x_bstride, w, w_m, w_v, b, b_m, b_v, p0,
                                                  static_cast<int>(rows_per_point), static_cast<int>(num_classes),
                                                  static_cast<int>(dim), s);
  }
}

}  // namespace tttlab::cuda
