// The resident TTT kernel: all T Adam steps of a test point in one launch, with the head W kept in
// shared memory for the whole run (see resident_ttt_kernels.hpp for the contract).
//
// One thread-block cluster per test point, G = ceil(C / 64) blocks (16 for C = 1000): block g owns
// classes [64g, 64g + 64) and keeps their rows of W, transposed ([d][64], 128 KB at d = 512), and
// their bias and its moments in shared memory. Per step:
//   A. logits of the k neighbours for its 64 classes (X streamed from L2 in 64-column chunks);
//   B. softmax over all C classes: per-row maxima and sums exchanged between the cluster's blocks
//      through distributed shared memory (two cluster barriers);
//   C. per 64-column chunk: the gradient tile delta^T X in registers while the chunk's Adam moments
//      arrive from global memory (cp.async); Adam updates W in shared memory, the moments go back.
// So a step moves only the two moments through global memory (16 bytes per head element, read and
// written) instead of W, m and v (24) plus W again for the logits (4).
#include <algorithm>
#include <cfloat>
#include <cstdint>

#include <cooperative_groups.h>

#include "tttlab/ttt/resident_ttt_kernels.hpp"

namespace cg = cooperative_groups;

namespace tttlab::cuda {

namespace {

constexpr int kClasses = 64;  // classes per block
constexpr int kRows = 64;     // neighbours per point, at most
constexpr int kChunk = 64;    // columns of X per chunk
constexpr int kThreads = 256;

__device__ __forceinline__ void cp_async_16(float* smem, const float* gmem) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

// Adam on one element, in adam_update_'s order of operations (as fused_step_kernels.cu).
__device__ __forceinline__ void adam_element(float& w, float& m, float& v, float g, const AdamStepScalars& s) {
  if (s.weight_decay != 0.f) g = g + s.weight_decay * w;
  m = m * s.beta1 + g * s.one_minus_beta1;
  v = v * s.beta2 + s.one_minus_beta2 * (g * g);
  const float denom = sqrtf(v) / s.sqrt_bc2 + s.eps;
  w = w + (-s.lr_over_bc1) * (m / denom);
}

// Columns [d0, d0 + 64) of the point's k rows of X into xs [64][64] (zeros past k and d).
__device__ __forceinline__ void stage_x(float* xs, const float* xp, int rows, int dim, int d0, int tid) {
  for (int e = tid; e < kRows * (kChunk / 4); e += kThreads) {
    const int i = e / (kChunk / 4), col = (e % (kChunk / 4)) * 4;
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (i < rows && d0 + col < dim) v = *reinterpret_cast<const float4*>(xp + static_cast<int64_t>(i) * dim + d0 + col);
    *reinterpret_cast<float4*>(xs + i * kChunk + col) = v;
  }
}

__global__ void __launch_bounds__(kThreads, 1) resident_ttt_kernel(ResidentTttArgs a) {
  extern __shared__ __align__(16) float smem[];
  cg::cluster_group cluster = cg::this_cluster();
  const int g = static_cast<int>(cluster.block_rank());
  const int num_blocks = static_cast<int>(cluster.num_blocks());
  const int64_t point = a.point0 + blockIdx.y;
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int dim = a.dim, rows = a.rows, c0 = g * kClasses;
  const int valid = min(kClasses, a.num_classes - c0);  // >= 1: G = ceil(C / 64)
  const int padded = num_blocks * kClasses;

  float* wt = smem;                           // [dim][64]  W^T of this block's classes
  float* xs = wt + dim * kClasses;            // [64][64]   a chunk of X
  float* ds = xs + kRows * kChunk;            // [64][64]   logits, then delta (rows i, classes c)
  float* ms = ds + kRows * kClasses;          // [64][64]   a chunk of m (rows d, classes c)
  float* vs = ms + kChunk * kClasses;         // [64][64]   a chunk of v
  float* bias = vs + kChunk * kClasses;       // [64], then its two moments
  float* bias_m = bias + kClasses;
  float* bias_v = bias_m + kClasses;
  float* stats = bias_v + kClasses;           // [2 parities][max 64 | sum 64]

  const float* xp = a.x + point * rows * dim;
  const int64_t* lp = a.labels + point * a.label_stride;
  float* mp = a.m + point * dim * padded + c0;  // m[d][c] at mp[d * padded + c]
  float* vp = a.v + point * dim * padded + c0;

  for (int e = tid; e < kClasses * dim; e += kThreads) {
    const int c = e / dim, j = e % dim;
    wt[j * kClasses + c] = c < valid ? a.w0[static_cast<int64_t>(c0 + c) * dim + j] : 0.f;
  }
  if (tid < kClasses) {
    bias[tid] = tid < valid ? a.b0[c0 + tid] : 0.f;
    bias_m[tid] = bias_v[tid] = 0.f;
  }
  __syncthreads();

  for (int t = 0; t < a.steps; ++t) {
    const AdamStepScalars s = a.scalars[t];

    // A. logits[i][c] = b[c] + sum_j x[i][j] W[c][j]; thread: rows ty + 16p, classes 4tx + q.
    float acc[4][4];
#pragma unroll
    for (int p = 0; p < 4; ++p)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[p][q] = 0.f;
    for (int d0 = 0; d0 < dim; d0 += kChunk) {
      stage_x(xs, xp, rows, dim, d0, tid);
      __syncthreads();
      const int n = min(kChunk, dim - d0);
      for (int j = 0; j < n; ++j) {
        const float4 w4 = *reinterpret_cast<const float4*>(wt + (d0 + j) * kClasses + 4 * tx);
#pragma unroll
        for (int p = 0; p < 4; ++p) {
          const float xv = xs[(ty + 16 * p) * kChunk + j];
          acc[p][0] = fmaf(xv, w4.x, acc[p][0]);
          acc[p][1] = fmaf(xv, w4.y, acc[p][1]);
          acc[p][2] = fmaf(xv, w4.z, acc[p][2]);
          acc[p][3] = fmaf(xv, w4.w, acc[p][3]);
        }
      }
      __syncthreads();
    }
#pragma unroll
    for (int p = 0; p < 4; ++p)
#pragma unroll
      for (int q = 0; q < 4; ++q) ds[(ty + 16 * p) * kClasses + 4 * tx + q] = acc[p][q] + bias[4 * tx + q];
    __syncthreads();

    // B. softmax over the cluster's classes: four threads per row, 16 classes each.
    float* st = stats + (t & 1) * 2 * kRows;  // alternate buffers: step t+1 cannot overwrite what step t still reads
    const int row = tid / 4, part = tid % 4;
    const bool row_ok = row < rows;
    float mx = -FLT_MAX;
    for (int c = part * 16; c < part * 16 + 16; ++c) {
      if (c < valid) mx = fmaxf(mx, ds[row * kClasses + c]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    if (part == 0) st[row] = mx;
    cluster.sync();
    float row_max = -FLT_MAX;
    for (int r = 0; r < num_blocks; ++r) row_max = fmaxf(row_max, cluster.map_shared_rank(st, r)[row]);
    float sum = 0.f;
    for (int c = part * 16; c < part * 16 + 16; ++c) {
      if (c < valid) sum += expf(ds[row * kClasses + c] - row_max);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    if (part == 0) st[kRows + row] = sum;
    cluster.sync();
    float row_sum = 0.f;
    for (int r = 0; r < num_blocks; ++r) row_sum += cluster.map_shared_rank(st, r)[kRows + row];
    const int64_t label = row_ok ? lp[row] : -1;
    for (int c = part * 16; c < part * 16 + 16; ++c) {
      float& cell = ds[row * kClasses + c];
      cell = row_ok && c < valid
                 ? (expf(cell - row_max) / row_sum - (c0 + c == label ? 1.f : 0.f)) / static_cast<float>(rows)
                 : 0.f;
    }
    __syncthreads();

    // The bias: gradient sum_i delta[i][c].
    if (tid < kClasses) {
      float gb = 0.f;
      for (int i = 0; i < rows; ++i) gb += ds[i * kClasses + tid];
      adam_element(bias[tid], bias_m[tid], bias_v[tid], gb, s);
    }

    // C. gradient + Adam, 64 columns of W at a time; thread: columns 4ty + p, classes 4tx + q.
    for (int d0 = 0; d0 < dim; d0 += kChunk) {
      const int n = min(kChunk, dim - d0);
      for (int e = tid; e < kChunk * (kClasses / 4); e += kThreads) {
        const int r = e / (kClasses / 4), col = (e % (kClasses / 4)) * 4;
        if (r >= n) continue;
        cp_async_16(ms + r * kClasses + col, mp + static_cast<int64_t>(d0 + r) * padded + col);
        cp_async_16(vs + r * kClasses + col, vp + static_cast<int64_t>(d0 + r) * padded + col);
      }
      cp_async_commit();
      stage_x(xs, xp, rows, dim, d0, tid);
      __syncthreads();
      float grad[4][4];
#pragma unroll
      for (int p = 0; p < 4; ++p)
#pragma unroll
        for (int q = 0; q < 4; ++q) grad[p][q] = 0.f;
      for (int i = 0; i < rows; ++i) {
        const float4 x4 = *reinterpret_cast<const float4*>(xs + i * kChunk + 4 * ty);
        const float4 d4 = *reinterpret_cast<const float4*>(ds + i * kClasses + 4 * tx);
        const float xv[4] = {x4.x, x4.y, x4.z, x4.w};
#pragma unroll
        for (int p = 0; p < 4; ++p) {
          grad[p][0] = fmaf(d4.x, xv[p], grad[p][0]);
          grad[p][1] = fmaf(d4.y, xv[p], grad[p][1]);
          grad[p][2] = fmaf(d4.z, xv[p], grad[p][2]);
          grad[p][3] = fmaf(d4.w, xv[p], grad[p][3]);
        }
      }
      cp_async_wait_all();
      __syncthreads();
#pragma unroll
      for (int p = 0; p < 4; ++p) {
        const int r = 4 * ty + p;
        if (r >= n) continue;
        float* wrow = wt + (d0 + r) * kClasses + 4 * tx;
        float w[4] = {wrow[0], wrow[1], wrow[2], wrow[3]};
        const float4 m4 = *reinterpret_cast<const float4*>(ms + r * kClasses + 4 * tx);
        const float4 v4 = *reinterpret_cast<const float4*>(vs + r * kClasses + 4 * tx);
        float m[4] = {m4.x, m4.y, m4.z, m4.w}, v[4] = {v4.x, v4.y, v4.z, v4.w};
#pragma unroll
        for (int q = 0; q < 4; ++q) adam_element(w[q], m[q], v[q], grad[p][q], s);
        *reinterpret_cast<float4*>(wrow) = make_float4(w[0], w[1], w[2], w[3]);
        const int64_t at = static_cast<int64_t>(d0 + r) * padded + 4 * tx;
        *reinterpret_cast<float4*>(mp + at) = make_float4(m[0], m[1], m[2], m[3]);
        *reinterpret_cast<float4*>(vp + at) = make_float4(v[0], v[1], v[2], v[3]);
      }
      __syncthreads();
    }
  }

  // The adapted head on the test point, and (if asked) the head itself.
  if (tid < valid) {
    const float* qp = a.query + point * dim;
    float logit = bias[tid];
    for (int j = 0; j < dim; ++j) logit = fmaf(qp[j], wt[j * kClasses + tid], logit);
    a.logits_out[point * a.num_classes + c0 + tid] = logit;
    if (a.b_out) a.b_out[point * a.num_classes + c0 + tid] = bias[tid];
  }
  if (a.w_out) {
    for (int e = tid; e < valid * dim; e += kThreads) {
      const int c = e / dim, j = e % dim;
      a.w_out[(point * a.num_classes + c0 + c) * dim + j] = wt[j * kClasses + c];
    }
  }
  cluster.sync();  // no block leaves while another may still read its statistics
}

size_t shared_bytes(int dim) {
  return sizeof(float) * (static_cast<size_t>(dim) * kClasses + kRows * kChunk + kRows * kClasses +
                          2 * kChunk * kClasses + 3 * kClasses + 4 * kRows);
}

}  // namespace

int resident_ttt_blocks_per_point(int64_t num_classes) { return static_cast<int>((num_classes + kClasses - 1) / kClasses); }

bool resident_ttt_fits(int64_t num_classes, int64_t dim, int64_t rows) {
  const int blocks = resident_ttt_blocks_per_point(num_classes);
  if (blocks < 1 || blocks > 16 || dim % 4 != 0 || rows < 1 || rows > kRows) return false;
  int device = 0, max_smem = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return false;
  cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (shared_bytes(static_cast<int>(dim)) > static_cast<size_t>(max_smem)) return false;
  // Can a cluster of that many blocks (one per SM) be placed at all?
  cudaFuncSetAttribute(resident_ttt_kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
  cudaFuncSetAttribute(resident_ttt_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                       static_cast<int>(shared_bytes(static_cast<int>(dim))));
  cudaLaunchConfig_t config = {};
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = static_cast<unsigned>(blocks);
  attr[0].val.clusterDim.y = attr[0].val.clusterDim.z = 1;
  config.gridDim = dim3(static_cast<unsigned>(blocks), 1, 1);
  config.blockDim = dim3(kThreads, 1, 1);
  config.dynamicSmemBytes = shared_bytes(static_cast<int>(dim));
  config.attrs = attr;
  config.numAttrs = 1;
  int clusters = 0;
  if (cudaOccupancyMaxActiveClusters(&clusters, resident_ttt_kernel, &config) != cudaSuccess) {
    cudaGetLastError();  // clear the error: the caller falls back to the per-step kernels
    return false;
  }
  return clusters > 0;
}

void launch_resident_ttt(const ResidentTttArgs& args_in, int64_t batch, cudaStream_t stream) {
  const int blocks = resident_ttt_blocks_per_point(args_in.num_classes);
  const size_t smem = shared_bytes(args_in.dim);
  cudaFuncSetAttribute(resident_ttt_kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
  cudaFuncSetAttribute(resident_ttt_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  constexpr int64_t kMaxGridY = 65535;
  for (int64_t p0 = 0; p0 < batch; p0 += kMaxGridY) {
    ResidentTttArgs args = args_in;
    args.point0 = p0;
    cudaLaunchConfig_t config = {};
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = static_cast<unsigned>(blocks);
    attr[0].val.clusterDim.y = attr[0].val.clusterDim.z = 1;
    config.gridDim = dim3(static_cast<unsigned>(blocks), static_cast<unsigned>(std::min(kMaxGridY, batch - p0)), 1);
    config.blockDim = dim3(kThreads, 1, 1);
    config.dynamicSmemBytes = smem;
    config.stream = stream;
    config.attrs = attr;
    config.numAttrs = 1;
    cudaLaunchKernelEx(&config, resident_ttt_kernel, args);
  }
}

}  // namespace tttlab::cuda
