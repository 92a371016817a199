// CUDA kernels of the fused TTT step (see fused_step_kernels.hpp for the contract).
#include <algorithm>
#include <cfloat>
#include <cstdint>

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
// Rows of up to 32 * kRegsPerLane classes are read once into registers; longer rows are read three
// times. Both sum each lane's classes in the same order, so they give the same bits.
constexpr int kRowsPerBlock = 8, kRegsPerLane = 32;

// With m_coef_in and m_coef_out (the row-space first moment, see launch_grad_adam), it also writes
// the next coefficients: m_coef_out = m_coef_in * beta1 + delta * (1 - beta1), in adam_element's
// order of operations (into another buffer: the gradient kernel of this step still reads m_coef_in).
template <bool kInRegisters>
__global__ void softmax_delta_kernel(float* __restrict__ logits, const int64_t* __restrict__ labels, int64_t total_rows,
                                     int rows_per_point, int num_classes, int64_t label_bstride,
                                     const float* __restrict__ m_coef_in, float* __restrict__ m_coef_out, float beta1,
                                     float one_minus_beta1) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  if (row >= total_rows) return;
  const int lane = threadIdx.x % kWarp;
  float* p = logits + row * num_classes;
  const float* a = m_coef_in == nullptr ? nullptr : m_coef_in + row * num_classes;
  float* a_out = a == nullptr ? nullptr : m_coef_out + row * num_classes;
  const int64_t label = labels[(row / rows_per_point) * label_bstride + row % rows_per_point];
  const float r = static_cast<float>(rows_per_point);
  if constexpr (kInRegisters) {
    float e[kRegsPerLane], av[kRegsPerLane];
    float mx = -FLT_MAX;
#pragma unroll
    for (int q = 0; q < kRegsPerLane; ++q) {
      const int c = lane + kWarp * q;
      e[q] = c < num_classes ? p[c] : -FLT_MAX;
      av[q] = a != nullptr && c < num_classes ? a[c] : 0.f;  // loaded early, used at the end
      mx = fmaxf(mx, e[q]);
    }
    mx = warp_max(mx);
    float sum = 0.f;
#pragma unroll
    for (int q = 0; q < kRegsPerLane; ++q) {
      e[q] = lane + kWarp * q < num_classes ? expf(e[q] - mx) : 0.f;
      sum += e[q];
    }
    sum = warp_sum(sum);
#pragma unroll
    for (int q = 0; q < kRegsPerLane; ++q) {
      const int c = lane + kWarp * q;
      if (c >= num_classes) continue;
      const float delta = (e[q] / sum - (c == label ? 1.f : 0.f)) / r;
      p[c] = delta;
      if (a != nullptr) a_out[c] = av[q] * beta1 + delta * one_minus_beta1;
    }
  } else {
    float mx = -FLT_MAX;
    for (int c = lane; c < num_classes; c += kWarp) mx = fmaxf(mx, p[c]);
    mx = warp_max(mx);
    float sum = 0.f;
    for (int c = lane; c < num_classes; c += kWarp) sum += expf(p[c] - mx);
    sum = warp_sum(sum);
    for (int c = lane; c < num_classes; c += kWarp) {
      const float prob = expf(p[c] - mx) / sum;
      const float delta = (prob - (c == label ? 1.f : 0.f)) / r;
      p[c] = delta;
      if (a != nullptr) a_out[c] = a[c] * beta1 + delta * one_minus_beta1;
    }
  }
}

// The hardware's approximate square root and division, flushing subnormals to zero (~2 ulp).
__device__ __forceinline__ float sqrt_approx_ftz(float x) {
  float r;
  asm("sqrt.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(x));
  return r;
}
__device__ __forceinline__ float div_approx_ftz(float a, float b) {
  float r;
  asm("div.approx.ftz.f32 %0, %1, %2;\n" : "=f"(r) : "f"(a), "f"(b));
  return r;
}

// Adam on one element, in adam_update_'s order of operations (torch.optim.Adam's non-fused path)
// except for three things that change results at rounding level only: weight decay as one fused
// multiply-add (exact when it is 0), and the square root and two divisions as the hardware's
// approximate square root, a product with 1/sqrt(1 - beta2^t) and an approximate division, all
// flushing subnormals (a v below 1e-38 adds less than 1e-19 to a denominator of at least eps; the
// denominator itself is never subnormal). IEEE-rounded sqrtf and '/' took ~55 instructions per
// element, about a quarter of the gradient kernel's instructions (ncu on the H200); this is ~10.
__device__ __forceinline__ void adam_element(float& w, float& m, float& v, float g, const AdamStepScalars& s) {
  g = fmaf(s.weight_decay, w, g);
  m = m * s.beta1 + g * s.one_minus_beta1;
  v = v * s.beta2 + s.one_minus_beta2 * (g * g);
  const float denom = sqrt_approx_ftz(v) * s.inv_sqrt_bc2 + s.eps;
  w = w + (-s.lr_over_bc1) * div_approx_ftz(m, denom);
}

// Tile of 64 classes x 64 dimensions per block of 16 x 16 threads; thread (ty, tx) owns the four
// consecutive classes 4ty + p and the four consecutive dimensions 4tx + q (p, q < 4): per row of
// delta and x it reads one 16-byte value of each from shared memory for 16 multiply-adds, and a
// half-warp writes 256 contiguous bytes of a row of W.
//
// The step reads its state once and writes it once: so the block first starts an asynchronous copy
// (cp.async) of its state tiles into shared memory, computes the gradient tile from delta and x
// (staged a round of rows at a time, also by cp.async with kVec4) while the copy is in flight, then
// waits, updates and writes back. kVec4 (C and d multiples of 4) moves 16 bytes at a time, otherwise 4.
// ncu on the H200 found the kernel bound by instruction issue (83% of issue slots busy, DRAM at 45%),
// so what is not a multiply-add is kept short: the rows of a full round are unrolled, the staging
// needs no registers, and the update uses approximate square root and division (adam_element).
//
// kRowSpace: W's first moment is not stored. Every gradient is delta_t^T x with the same x, so
// m_t = sum_s (1 - beta1) beta1^(t-s) delta_s^T x = m_coef_t^T x, where m_coef [B, r, C] follows the
// recurrence m_coef = beta1 m_coef + (1 - beta1) delta. The kernel gets m_coef_{t-1} (softmax_delta
// writes m_coef_t into a second buffer), computes m_{t-1} = m_coef_{t-1}^T x beside the gradient
// and then runs the stored-moment update m_t = beta1 m_{t-1} + (1 - beta1) g_t unchanged: so g
// enters m and v exactly as it does with a stored moment (computing m_t from m_coef_t instead made
// m and v disagree on gradients at rounding level, and Adam divides one by the other). It moves 16
// bytes per element instead of 24 (W and v read and written), for twice the multiply-adds.
constexpr int kTile = 64, kThreadsSide = 16, kPer = kTile / kThreadsSide;
// Rows of delta, x (and m_coef) staged per round: 32 in row space (k = 50 in two rounds instead of
// four, within 56 KB per block; on an H200 the kernel alone went from 0.335 to 0.326 ms per point),
// 16 with the stored moment (whose three state tiles take 48 KB).
__host__ __device__ constexpr int rows_chunk(bool row_space) { return row_space ? 32 : 16; }
// Rows of the state tiles are read as 16-byte vectors (each quarter-warp reads 128 contiguous bytes:
// no bank conflicts), so they need no padding; 56 KB per block (44 KB in row space) lets four
// blocks share an SM.
constexpr int kPitch = kTile;
// Row space: 32 accumulators per thread; asking for 4 blocks per SM caps registers at 64. Measured on
// the H100 (gradient + Adam, ms per point): 4 blocks 0.336, 3 blocks (80 registers) 0.386; staging the
// rows through a cp.async double buffer: 0.353 with 4 blocks (spills), 0.331 with 3 (not kept).
constexpr int kRowSpaceMinBlocks = 4;
constexpr int kStateFloats = kTile * kPitch;
__host__ __device__ constexpr int chunk_floats(bool row_space) { return rows_chunk(row_space) * kTile; }
constexpr size_t grad_adam_smem(bool row_space) {
  return sizeof(float) *
         (row_space ? 2 * kStateFloats + 3 * chunk_floats(true) : 3 * kStateFloats + 2 * chunk_floats(false));
}

__device__ __forceinline__ void cp_async_16(float* smem, const float* gmem) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async_4(float* smem, const float* gmem) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(s), "l"(gmem));
}
// valid false: writes 16 zero bytes and reads nothing (gmem must still be a valid address).
__device__ __forceinline__ void cp_async_16_or_zero(float* smem, const float* gmem, bool valid) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

template <bool kVec4, bool kRowSpace>
__global__ void __launch_bounds__(kThreadsSide* kThreadsSide, kRowSpace ? kRowSpaceMinBlocks : 1)
    grad_adam_kernel(const float* __restrict__ delta, const float* __restrict__ m_coef, const float* __restrict__ x,
                     int64_t x_bstride, float* __restrict__ w, float* __restrict__ w_m, float* __restrict__ w_v,
                     float* __restrict__ b, float* __restrict__ b_m, float* __restrict__ b_v, int64_t point0, int rows,
                     int num_classes, int dim, AdamStepScalars s) {
  extern __shared__ __align__(16) float smem[];
  // Shared memory: the state tiles (W, v and, unless kRowSpace, m), then the staged rows of delta,
  // x and (kRowSpace) m_coef.
  float* s_w = smem;
  float* s_v = s_w + kStateFloats;
  float* s_m = kRowSpace ? nullptr : s_v + kStateFloats;
  constexpr int kRowsChunk = rows_chunk(kRowSpace), kChunkFloats = chunk_floats(kRowSpace);
  float* s_delta = s_v + (kRowSpace ? 1 : 2) * kStateFloats;  // [kRowsChunk][kTile]
  float* s_x = s_delta + kChunkFloats;                        // [kRowsChunk][kTile]
  float* s_a = kRowSpace ? s_x + kChunkFloats : nullptr;      // [kRowsChunk][kTile]
  const int tid = threadIdx.x, tx = tid % kThreadsSide, ty = tid / kThreadsSide;
  const int64_t point = point0 + blockIdx.z;
  const int c0 = blockIdx.y * kTile, j0 = blockIdx.x * kTile;
  const int tile_rows = min(kTile, num_classes - c0), tile_cols = min(kTile, dim - j0);
  const float* dp = delta + point * rows * num_classes;
  const float* ap = kRowSpace ? m_coef + point * rows * num_classes : nullptr;
  const float* xp = x + point * x_bstride;
  const int64_t tile_base = (point * num_classes + c0) * static_cast<int64_t>(dim) + j0;

  constexpr int kThreads = kThreadsSide * kThreadsSide, kVecsPerRow = kTile / 4;
  // 16-byte copies: thread tid moves column vec_col of rows vec_row, vec_row + kVecRowStep, ...
  constexpr int kVecRowStep = kThreads / kVecsPerRow;
  const int vec_row = tid / kVecsPerRow, vec_col = tid % kVecsPerRow * 4;

  // 1. The state tiles into shared memory, asynchronously. With 16-byte copies, the staged rows of
  //    the first round go first (their own group), so that waiting for them leaves the state in flight.
  auto stage_rows_async = [&](int i0) {
    static_assert(kRowsChunk % kVecRowStep == 0, "every thread copies the same number of row vectors");
    const bool c_in = vec_col < tile_rows, j_in = vec_col < tile_cols;
#pragma unroll
    for (int i = vec_row; i < kRowsChunk; i += kVecRowStep) {
      const bool row_in = i0 + i < rows;  // rows past the end, and columns past the tile, are zeros
      const int64_t rc = static_cast<int64_t>(i0 + i) * num_classes + c0 + vec_col;
      const int64_t rx = static_cast<int64_t>(i0 + i) * dim + j0 + vec_col;
      cp_async_16_or_zero(s_delta + i * kTile + vec_col, row_in && c_in ? dp + rc : dp, row_in && c_in);
      if constexpr (kRowSpace)
        cp_async_16_or_zero(s_a + i * kTile + vec_col, row_in && c_in ? ap + rc : ap, row_in && c_in);
      cp_async_16_or_zero(s_x + i * kTile + vec_col, row_in && j_in ? xp + rx : xp, row_in && j_in);
    }
    cp_async_commit();
  };
  if constexpr (kVec4) {
    stage_rows_async(0);
    if (vec_col < tile_cols) {
      const int64_t step = static_cast<int64_t>(kVecRowStep) * dim;
      int64_t g = tile_base + static_cast<int64_t>(vec_row) * dim + vec_col;
      for (int r = vec_row; r < tile_rows; r += kVecRowStep, g += step) {
        cp_async_16(s_w + r * kPitch + vec_col, w + g);
        cp_async_16(s_v + r * kPitch + vec_col, w_v + g);
        if constexpr (!kRowSpace) cp_async_16(s_m + r * kPitch + vec_col, w_m + g);
      }
    }
  } else {
    for (int e = tid; e < kTile * kTile; e += kThreads) {
      const int r = e / kTile, col = e % kTile;
      if (r >= tile_rows || col >= tile_cols) continue;
      const int64_t g = tile_base + static_cast<int64_t>(r) * dim + col;
      cp_async_4(s_w + r * kPitch + col, w + g);
      cp_async_4(s_v + r * kPitch + col, w_v + g);
      if constexpr (!kRowSpace) cp_async_4(s_m + r * kPitch + col, w_m + g);
    }
  }
  cp_async_commit();

  // 2. The gradient tile, dW[c, j] = sum_i delta[i, c] x[i, j], in registers; in row space also the
  //    first moment's tile, m[c, j] = sum_i m_coef[i, c] x[i, j].
  float acc[kPer][kPer], acc_m[kPer][kPer];
#pragma unroll
  for (int p = 0; p < kPer; ++p)
#pragma unroll
    for (int q = 0; q < kPer; ++q) acc[p][q] = acc_m[p][q] = 0.f;
  auto accumulate_row = [&](int i) {
    const float4 dv = *reinterpret_cast<const float4*>(s_delta + i * kTile + 4 * ty);
    const float4 xv = *reinterpret_cast<const float4*>(s_x + i * kTile + 4 * tx);
    const float dl[kPer] = {dv.x, dv.y, dv.z, dv.w}, xl[kPer] = {xv.x, xv.y, xv.z, xv.w};
#pragma unroll
    for (int p = 0; p < kPer; ++p)
#pragma unroll
      for (int q = 0; q < kPer; ++q) acc[p][q] = fmaf(dl[p], xl[q], acc[p][q]);
    if constexpr (kRowSpace) {
      const float4 av = *reinterpret_cast<const float4*>(s_a + i * kTile + 4 * ty);
      const float al[kPer] = {av.x, av.y, av.z, av.w};
#pragma unroll
      for (int p = 0; p < kPer; ++p)
#pragma unroll
        for (int q = 0; q < kPer; ++q) acc_m[p][q] = fmaf(al[p], xl[q], acc_m[p][q]);
    }
  };

  for (int i0 = 0; i0 < rows; i0 += kRowsChunk) {
    if constexpr (kVec4) {
      if (i0 == 0) {
        asm volatile("cp.async.wait_group 1;\n" ::: "memory");  // the first rows; the state may still fly
      } else {
        stage_rows_async(i0);
        cp_async_wait_all();
      }
    } else {
      for (int e = tid; e < kChunkFloats; e += kThreads) {
        const int i = e / kTile, col = e % kTile;
        const bool row_ok = i0 + i < rows;
        const int64_t rc = static_cast<int64_t>(i0 + i) * num_classes + c0 + col;
        s_delta[e] = row_ok && col < tile_rows ? dp[rc] : 0.f;
        if constexpr (kRowSpace) s_a[e] = row_ok && col < tile_rows ? ap[rc] : 0.f;
        s_x[e] = row_ok && col < tile_cols ? xp[static_cast<int64_t>(i0 + i) * dim + j0 + col] : 0.f;
      }
    }
    __syncthreads();
    const int chunk = min(kRowsChunk, rows - i0);
    if (chunk == kRowsChunk) {  // unrolled: shared-memory addresses become immediate offsets
#pragma unroll
      for (int i = 0; i < kRowsChunk; ++i) accumulate_row(i);
    } else {
      for (int i = 0; i < chunk; ++i) accumulate_row(i);
    }
    __syncthreads();
  }

  // 3. Adam on the tile, from shared memory back to global memory.
  cp_async_wait_all();
  __syncthreads();
#pragma unroll
  for (int p = 0; p < kPer; ++p) {
    const int r = 4 * ty + p, col = 4 * tx;
    if (r >= tile_rows || (kVec4 && col >= tile_cols)) continue;  // kVec4: tile_cols is a multiple of 4
    const float4 w4 = *reinterpret_cast<const float4*>(s_w + r * kPitch + col);
    const float4 v4 = *reinterpret_cast<const float4*>(s_v + r * kPitch + col);
    float wv[kPer] = {w4.x, w4.y, w4.z, w4.w}, vv[kPer] = {v4.x, v4.y, v4.z, v4.w}, mv[kPer];
    if constexpr (kRowSpace) {
#pragma unroll
      for (int q = 0; q < kPer; ++q) mv[q] = acc_m[p][q];  // m_{t-1}, from the coefficients
    } else {
      const float4 m4 = *reinterpret_cast<const float4*>(s_m + r * kPitch + col);
      mv[0] = m4.x, mv[1] = m4.y, mv[2] = m4.z, mv[3] = m4.w;
    }
#pragma unroll
    for (int q = 0; q < kPer; ++q) {
      if (kVec4 || col + q < tile_cols) adam_element(wv[q], mv[q], vv[q], acc[p][q], s);
    }
    const int64_t g = tile_base + static_cast<int64_t>(r) * dim + col;
    if constexpr (kVec4) {
      *reinterpret_cast<float4*>(w + g) = make_float4(wv[0], wv[1], wv[2], wv[3]);
      *reinterpret_cast<float4*>(w_v + g) = make_float4(vv[0], vv[1], vv[2], vv[3]);
      if constexpr (!kRowSpace) *reinterpret_cast<float4*>(w_m + g) = make_float4(mv[0], mv[1], mv[2], mv[3]);
    } else {
#pragma unroll
      for (int q = 0; q < kPer; ++q) {
        if (col + q >= tile_cols) continue;
        w[g + q] = wv[q];
        w_v[g + q] = vv[q];
        if constexpr (!kRowSpace) w_m[g + q] = mv[q];
      }
    }
  }

  // The bias (its moments are always stored): the first column of blocks owns its classes' terms.
  if (blockIdx.x == 0 && tid < tile_rows) {
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
                          int64_t num_classes, int64_t label_bstride, cudaStream_t stream, const float* m_coef_in,
                          float* m_coef_out, float beta1, float one_minus_beta1) {
  const int64_t total = batch * rows_per_point;
  if (total == 0) return;
  const auto blocks = static_cast<unsigned>((total + kRowsPerBlock - 1) / kRowsPerBlock);
  auto* kernel = num_classes <= kWarp * kRegsPerLane ? softmax_delta_kernel<true> : softmax_delta_kernel<false>;
  kernel<<<blocks, kRowsPerBlock * kWarp, 0, stream>>>(logits, labels, total, static_cast<int>(rows_per_point),
                                                       static_cast<int>(num_classes), label_bstride, m_coef_in,
                                                       m_coef_out, beta1, one_minus_beta1);
}

void launch_grad_adam(const float* delta, const float* m_coef, const float* x, int64_t x_bstride, float* w, float* w_m,
                      float* w_v, float* b, float* b_m, float* b_v, int64_t batch, int64_t rows_per_point,
                      int64_t num_classes, int64_t dim, const AdamStepScalars& s, cudaStream_t stream) {
  const dim3 block(kThreadsSide * kThreadsSide);
  const bool row_space = m_coef != nullptr;
  // 16-byte copies need every row of W, delta, m_coef and x to start 16-byte aligned: C and d
  // multiples of 4 and aligned bases.
  const auto bases = reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(w_m) |
                     reinterpret_cast<uintptr_t>(w_v) | reinterpret_cast<uintptr_t>(delta) |
                     reinterpret_cast<uintptr_t>(m_coef) | reinterpret_cast<uintptr_t>(x);
  const bool vec4 = dim % 4 == 0 && num_classes % 4 == 0 && x_bstride % 4 == 0 && bases % 16 == 0;
  decltype(&grad_adam_kernel<true, true>) kernel;
  if (row_space)
    kernel = vec4 ? grad_adam_kernel<true, true> : grad_adam_kernel<false, true>;
  else
    kernel = vec4 ? grad_adam_kernel<true, false> : grad_adam_kernel<false, false>;
  const auto smem = grad_adam_smem(row_space);
  // More than 48 KB of dynamic shared memory must be asked for (once per kernel; cheap to repeat).
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  for (int64_t p0 = 0; p0 < batch; p0 += kMaxGridZ) {
    const auto pts = static_cast<unsigned>(std::min<int64_t>(kMaxGridZ, batch - p0));
    const dim3 grid(static_cast<unsigned>((dim + kTile - 1) / kTile),
                    static_cast<unsigned>((num_classes + kTile - 1) / kTile), pts);
    kernel<<<grid, block, smem, stream>>>(delta, m_coef, x, x_bstride, w, w_m, w_v, b, b_m, b_v, p0,
                                          static_cast<int>(rows_per_point), static_cast<int>(num_classes),
                                          static_cast<int>(dim), s);
  }
}

}  // namespace tttlab::cuda
