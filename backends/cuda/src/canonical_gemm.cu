// The canonical GEMM on the GPU (DESIGN.md §2, contract version 1). For each output (row n,
// expert e): cut k into 64-element chunks; each chunk sum starts at +0.0f and accumulates
// fmaf(x[k], w[k], c) in ascending k; the total is the first chunk sum, then + each later chunk sum
// in ascending chunk order. Both kernels below perform exactly these roundings for every output,
// so they agree with each other and with the CPU backend bit for bit, for any n, tiling or grid.
//
// Two rules keep that true at the edges:
//  * a short last chunk (H not a multiple of 64) stops at H: it never fmas padding zeros, because
//    fmaf(0, 0, -0.0f) = +0.0f and fmaf(0, inf, c) = NaN would change bits;
//  * device code is built with --fmad=false, so the only fused operations are the explicit fmaf.
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "canonical_tiled.hpp"
#include "cuda_check.hpp"
#include "env_integer.hpp"
#include "kernels.hpp"
#include "moerouter/config.hpp"

namespace moerouter::cuda::detail {

namespace {

constexpr int kChunk = kCanonicalChunk;
static_assert(kChunk == 64, "the kernels' tiles are built around contract version 1 (C = 64)");

__device__ __forceinline__ float load_x(const float* p) { return *p; }
__device__ __forceinline__ float load_x(const uint16_t* p) {
  return __uint_as_float(static_cast<uint32_t>(*p) << 16);  // bf16 -> f32 is exact
}

// ---- large n, any shape: register tiling ---------------------------------------------------------
// The generic tiled kernel: any H, ld and alignment. Aligned shapes take the faster pipelined kernel
// of canonical_tiled.cu instead (same bits). A block computes a 64-row x 64-expert tile; its 256
// threads each own 4 rows x 4 experts (strided by 16, so the shared-memory reads of a warp hit
// distinct banks or broadcast). The k loop walks one 64-chunk per shared-memory tile, so the chunk
// boundaries of the contract are the tile boundaries: per chunk each thread runs 64 fmaf per output
// from +0.0f, then adds the chunk sum to its running total (or takes it as the total for chunk 0).
constexpr int kTileRows = 64, kTileExperts = 64, kTileThreads = 256, kPerThread = 4;
static_assert(kTileRows == kTileExperts && kTileRows == 16 * kPerThread && kTileThreads == 256,
              "the staging loop and the 16 x 16 thread layout assume square 64 x 64 tiles");

// One k of the chunk for the thread's 4 x 4 outputs (rows ty + 16 i, experts tx + 16 j).
__device__ __forceinline__ void tiled_k_step(const float* xk, const float* wk, int ty, int tx,
                                             float (&c)[kPerThread][kPerThread]) {
  float a[kPerThread], b[kPerThread];
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) a[i] = xk[ty + 16 * i];
#pragma unroll
  for (int j = 0; j < kPerThread; ++j) b[j] = wk[tx + 16 * j];
#pragma unroll
  for (int i = 0; i < kPerThread; ++i)
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) c[i][j] = fmaf(a[i], b[j], c[i][j]);
}

template <class XT>
__global__ void __launch_bounds__(kTileThreads)
canonical_tiled_kernel(const XT* __restrict__ x, int64_t ldx, const float* __restrict__ w,
                       int64_t n, int experts, int hidden, float* __restrict__ logits) {
  // [k][row] and [k][expert], padded by one so the transposing stores do not conflict.
  __shared__ float xs[kChunk][kTileRows + 1];
  __shared__ float ws[kChunk][kTileExperts + 1];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kTileRows;
  const int e0 = blockIdx.y * kTileExperts;

  float total[kPerThread][kPerThread];
  for (int k0 = 0; k0 < hidden; k0 += kChunk) {
    const int len = min(kChunk, hidden - k0);
    // Stage the chunk: consecutive threads read consecutive k of one row (coalesced). Elements past
    // n, E or the chunk's end are stored as 0 but never used for a valid output.
    for (int i = tid; i < kTileRows * kChunk; i += kTileThreads) {
      const int r = i / kChunk, kk = i % kChunk;
      const int64_t row = row0 + r;
      xs[kk][r] = (row < n && kk < len) ? load_x(x + row * ldx + k0 + kk) : 0.0f;
      const int e = e0 + r;
      ws[kk][r] = (e < experts && kk < len) ? w[static_cast<int64_t>(e) * hidden + k0 + kk] : 0.0f;
    }
    __syncthreads();
    float c[kPerThread][kPerThread];
#pragma unroll
    for (int i = 0; i < kPerThread; ++i)
#pragma unroll
      for (int j = 0; j < kPerThread; ++j) c[i][j] = 0.0f;
    if (len == kChunk) {
#pragma unroll 16
      for (int kk = 0; kk < kChunk; ++kk) tiled_k_step(xs[kk], ws[kk], ty, tx, c);
    } else {  // the short last chunk: stop at H
      for (int kk = 0; kk < len; ++kk) tiled_k_step(xs[kk], ws[kk], ty, tx, c);
    }
#pragma unroll
    for (int i = 0; i < kPerThread; ++i)
#pragma unroll
      for (int j = 0; j < kPerThread; ++j) total[i][j] = (k0 == 0) ? c[i][j] : total[i][j] + c[i][j];
    __syncthreads();  // the next chunk overwrites xs/ws
  }
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int64_t row = row0 + ty + 16 * i;
    if (row >= n) continue;
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int e = e0 + tx + 16 * j;
      if (e < experts) logits[row * experts + e] = total[i][j];
    }
  }
}

// ---- small n: chunks spread over threads -----------------------------------------------------
// With few rows a tile kernel would leave most of the GPU idle walking a long k. Here a block owns
// 4 experts x 8 rows; in each pass its 128 threads take 32 consecutive chunks of each of the 4
// experts (one warp per expert, one chunk per lane). A thread keeps its chunk of w in registers and
// computes the chunk sum for each of the 8 rows, writing them to shared memory; then 32 threads
// (one per output) add the pass's chunk sums to their running totals sequentially, in ascending
// chunk order. Passes go in ascending order, so every total is c0 + c1 + c2 + ... as the contract says.
constexpr int kSkExperts = 4, kSkChunks = 32, kSkRows = 8, kSkThreads = kSkExperts * kSkChunks;
static_assert(kSkRows * kSkExperts <= kSkChunks, "one summing thread per output, all in warp 0");

template <class XT>
__global__ void __launch_bounds__(kSkThreads)
canonical_splitk_kernel(const XT* __restrict__ x, int64_t ldx, const float* __restrict__ w,
                        int64_t n, int experts, int hidden, float* __restrict__ logits) {
  // [row][expert][chunk], chunk dimension padded so the summing threads hit distinct banks.
  __shared__ float part[kSkRows][kSkExperts][kSkChunks + 1];
  const int tid = threadIdx.x;
  const int lane_chunk = tid % kSkChunks;
  const int e_local = tid / kSkChunks;
  const int e = blockIdx.x * kSkExperts + e_local;
  const int64_t row0 = static_cast<int64_t>(blockIdx.y) * kSkRows;
  const int rows = n - row0 < kSkRows ? static_cast<int>(n - row0) : kSkRows;
  const int chunks = (hidden + kChunk - 1) / kChunk;

  // The summing role: thread tid < rows*4 owns output (row0 + tid / 4, expert block*4 + tid % 4),
  // when that expert exists.
  const int sum_row = tid / kSkExperts, sum_e_local = tid % kSkExperts;
  const int out_e = blockIdx.x * kSkExperts + sum_e_local;
  const bool sums = tid < rows * kSkExperts && out_e < experts;
  float total = 0.0f;

  for (int pass0 = 0; pass0 < chunks; pass0 += kSkChunks) {
    const int chunk = pass0 + lane_chunk;
    if (e < experts && chunk < chunks) {
      const int k0 = chunk * kChunk;
      const int len = min(kChunk, hidden - k0);
      const float* wk = w + static_cast<int64_t>(e) * hidden + k0;
      if (len == kChunk) {
        float wr[kChunk];
#pragma unroll
        for (int kk = 0; kk < kChunk; ++kk) wr[kk] = wk[kk];
        for (int r = 0; r < rows; ++r) {
          const XT* xk = x + (row0 + r) * ldx + k0;
          float c = 0.0f;
#pragma unroll
          for (int kk = 0; kk < kChunk; ++kk) c = fmaf(load_x(xk + kk), wr[kk], c);
          part[r][e_local][lane_chunk] = c;
        }
      } else {  // the short last chunk: stop at H
        for (int r = 0; r < rows; ++r) {
          const XT* xk = x + (row0 + r) * ldx + k0;
          float c = 0.0f;
          for (int kk = 0; kk < len; ++kk) c = fmaf(load_x(xk + kk), wk[kk], c);
          part[r][e_local][lane_chunk] = c;
        }
      }
    }
    __syncthreads();
    if (sums) {
      const int in_pass = min(kSkChunks, chunks - pass0);
      for (int j = 0; j < in_pass; ++j) {
        const float v = part[sum_row][sum_e_local][j];
        total = (pass0 + j == 0) ? v : total + v;
      }
    }
    __syncthreads();  // the next pass overwrites part
  }
  if (sums) logits[(row0 + sum_row) * experts + out_e] = total;
}

std::atomic<CanonicalKernel> g_override{CanonicalKernel::Auto};

template <class XT>
void launch_generic_tiled(const XT* x, int64_t ldx, const float* w, int64_t n, int experts, int hidden,
                          float* logits, cudaStream_t stream) {
  // grid.x = row blocks (up to 2^31 - 1), grid.y = expert blocks (E <= 1024: at most 16).
  const dim3 grid(static_cast<unsigned>((n + kTileRows - 1) / kTileRows),
                  static_cast<unsigned>((experts + kTileExperts - 1) / kTileExperts));
  canonical_tiled_kernel<XT><<<grid, kTileThreads, 0, stream>>>(x, ldx, w, n, experts, hidden, logits);
  check_launch("canonical_tiled_kernel");
}

template <class XT>
void launch(CanonicalKernel which, const XT* x, int64_t ldx, const float* w, int64_t n, int experts,
            int hidden, float* logits, cudaStream_t stream) {
  if (which == CanonicalKernel::SplitK) {
    // grid.y = row blocks (<= 65535 each launch): split very large n over several launches.
    constexpr int64_t kMaxRowBlocks = 65535;
    for (int64_t r0 = 0; r0 < n; r0 += kMaxRowBlocks * kSkRows) {
      const int64_t rows = std::min<int64_t>(n - r0, kMaxRowBlocks * kSkRows);
      const dim3 grid(static_cast<unsigned>((experts + kSkExperts - 1) / kSkExperts),
                      static_cast<unsigned>((rows + kSkRows - 1) / kSkRows));
      canonical_splitk_kernel<XT><<<grid, kSkThreads, 0, stream>>>(x + r0 * ldx, ldx, w, rows, experts,
                                                                   hidden, logits + r0 * experts);
      check_launch("canonical_splitk_kernel");
    }
  } else {
    launch_generic_tiled(x, ldx, w, n, experts, hidden, logits, stream);
  }
}

}  // namespace

// kernels.hpp: kSplitKMaxRows unless the environment overrides it.
int64_t canonical_splitk_max_rows() {
  static const int64_t rows =
      env_integer("MOEROUTER_CANONICAL_SPLITK_MAX_ROWS", 0, int64_t{1} << 20, kSplitKMaxRows);
  return rows;
}

void set_canonical_override(CanonicalKernel which) { g_override.store(which); }
CanonicalKernel canonical_override() { return g_override.load(); }

CanonicalKernel canonical_gemm_with_split(CanonicalKernel which, XView x, const float* w, int64_t n,
                                          int64_t experts, int64_t hidden, float* logits, cudaStream_t stream,
                                          const CanonicalSplitScratch& split, bool* split_used) {
  if (split_used) *split_used = false;
  if (which == CanonicalKernel::Auto) which = g_override.load();
  if (which == CanonicalKernel::Auto)
    which = n <= canonical_splitk_max_rows() ? CanonicalKernel::SplitK : CanonicalKernel::Tiled;
  if (n <= 0) return which;
  // experts <= 1024 (config contract); hidden is an int in the kernels: the router rejects larger.
  const int e = static_cast<int>(experts), h = static_cast<int>(hidden);
  // Aligned shapes (H and ld multiples of 16 bytes' worth of x) take the pipelined kernel.
  if (which == CanonicalKernel::Tiled) {
    const TiledRun run = canonical_tiled_fast(x, w, n, e, h, logits, stream, TiledShape::Auto, split);
    if (split_used) *split_used = run == TiledRun::Split;
    if (run != TiledRun::Declined) return which;
  }
  if (x.bf16)
    launch(which, static_cast<const uint16_t*>(x.data), x.ld, w, n, e, h, logits, stream);
  else
    launch(which, static_cast<const float*>(x.data), x.ld, w, n, e, h, logits, stream);
  return which;
}

CanonicalKernel canonical_gemm(CanonicalKernel which, XView x, const float* w, int64_t n,
                               int64_t experts, int64_t hidden, float* logits, cudaStream_t stream) {
  return canonical_gemm_with_split(which, x, w, n, experts, hidden, logits, stream, CanonicalSplitScratch{},
                                   nullptr);
}

}  // namespace moerouter::cuda::detail
