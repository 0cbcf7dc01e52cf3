// The fast tiled canonical GEMM (DESIGN.md §2, contract version 1): logits[row, e] = the canonical
// dot product of x[row, :] and w[e, :]. For each output: k is cut into 64-chunks; a chunk sum starts
// at +0.0f and accumulates fmaf(x[k], w[k], c) in ascending k; the total is chunk sum 0, then
// + each later chunk sum in ascending order; a short last chunk stops at H.
//
// How the kernel keeps exactly that order while running near the FFMA peak:
//  * one 64-deep k tile per pipeline stage, so chunk boundaries are stage boundaries: per stage a
//    thread zeroes its chunk sums, runs the chunk, then folds them into its running totals
//    (total = c0 for the first chunk, total + c_j after). Both live in registers (2 x TM x TN).
//  * a thread owns TM rows x TN experts (strided by 16, 16 x 16 threads); within a chunk it walks k
//    four at a time, and for every (row, expert) pair the four fmaf go in ascending k. Which pair
//    goes first never matters: the pairs are independent outputs.
//  * operands are staged untransposed (x tile [row][k], w tile [expert][k]) with cp.async (16-byte
//    copies, zero-filled past n / E / H); a thread reads four k of one row as one 16-byte (8 for
//    bf16) shared load, so no transposition is needed and both operands are read vectorized.
//    Row pitch 68 floats (144 bytes for bf16) keeps the w reads of a quarter warp on distinct banks;
//    the x reads are broadcasts (16 threads share a row).
//  * zero-filled elements are never multiplied: the short-chunk loop stops at len, a multiple of 4,
//    and rows/experts past n / E are staged but never written out.
//  * bf16 x is staged raw and widened exactly (bits << 16) when read.
// Build with --fmad=false (CMakeLists.txt): the only fused operations are the explicit fmaf.
//
// Speed (H100, 2026-11-25, round 2): ~39 TFLOP/s at N = 16384 (1.23-1.30x cuBLAS SGEMM time),
// 1.26-1.35x at N = 4096; 0-5 % faster than round 1 (most tiles 2-5 %), whose kernel differs only in
// per-chunk overhead (copy addresses of whole tiles are now computed once, stage indices are
// counters instead of divisions, a 4-k step loads all its fragments before its FMAs). The chunk loop is 4096 FFMA + 256
// LDS.128 per thread, no spills. ncu of the round-1 kernel (128 x 128, dsv4-pro N = 16384): issue
// slots ~70 % busy with 2 warps per scheduler; per issued instruction a warp also waits ~0.4 cycles
// on dispatch, ~0.3 on shared loads (short scoreboard), ~0.15 on FMA latency; no bank conflicts.
// Measured and dropped in round 2 (slower or equal): k-major FMA order within a 4-k step; register
// double buffering of the fragments (explicit, or x reloaded row by row with w double-buffered:
// ptxas moves the loads back next to their uses), with the running totals in shared memory to make
// room; 512 threads x 4 x 8 outputs (16 warps per SM, <= 128 registers); spreading the next chunk's
// copies over the 4-k steps. Round 1: a 2 x 16 warp layout, partial unroll, totals in shared
// memory alone, a 128-register cap for 2 blocks per SM (spilled).
#include "canonical_tiled.hpp"

#include <algorithm>

#include "cuda_check.hpp"
#include "per_device_cache.hpp"
#include "moerouter/config.hpp"

namespace moerouter::cuda::detail {

namespace {

constexpr int kChunk = kCanonicalChunk;
static_assert(kChunk == 64, "one pipeline stage holds one 64-chunk of the contract (version 1)");
constexpr int kThreads = 256;        // 16 x 16 threads
constexpr int kWPitch = kChunk + 4;  // floats per staged w row: 272 bytes, float4 reads conflict-free
constexpr int kMaxStages = 3;

template <class XT> struct XPitch;
template <> struct XPitch<float> { static constexpr int value = kChunk + 4; };     // 272 bytes
template <> struct XPitch<uint16_t> { static constexpr int value = kChunk + 8; };  // 144 bytes

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(gmem));
}
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  // src-size 0 copies nothing and zero-fills the 16 bytes (rows past n, experts past E, k past H).
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most `pending` of this thread's most recent groups are still in flight.
__device__ __forceinline__ void cp_async_wait(int pending) {
  if (pending <= 0)
    asm volatile("cp.async.wait_group 0;\n" ::);
  else if (pending == 1)
    asm volatile("cp.async.wait_group 1;\n" ::);
  else
    asm volatile("cp.async.wait_group 2;\n" ::);
}

// Four consecutive staged x values of one row, as floats (bf16 -> f32 is exact: bits << 16).
__device__ __forceinline__ void load4(const float* p, float (&a)[4]) {
  const float4 v = *reinterpret_cast<const float4*>(p);
  a[0] = v.x, a[1] = v.y, a[2] = v.z, a[3] = v.w;
}
__device__ __forceinline__ void load4(const uint16_t* p, float (&a)[4]) {
  const uint2 v = *reinterpret_cast<const uint2*>(p);  // little endian: element 0 in v.x's low half
  a[0] = __uint_as_float(v.x << 16), a[1] = __uint_as_float(v.x & 0xFFFF0000u);
  a[2] = __uint_as_float(v.y << 16), a[3] = __uint_as_float(v.y & 0xFFFF0000u);
}

// k .. k+3 of the current chunk for all TM x TN outputs of the thread; per output the four fmaf go
// in ascending k. xs/ws point at the thread's first row / expert in the stage.
template <int TM, int TN, int XP, class XT>
__device__ __forceinline__ void k4_step(const XT* xs, const float* ws, int k, float (&acc)[TM][TN]) {
  float4 b[TN];
  float a[TM][4];  // all fragments of the step first, then its FMAs (the variant round 2 measured)
#pragma unroll
  for (int j = 0; j < TN; ++j) b[j] = *reinterpret_cast<const float4*>(ws + j * 16 * kWPitch + k);
#pragma unroll
  for (int i = 0; i < TM; ++i) load4(xs + i * 16 * XP + k, a[i]);
#pragma unroll
  for (int i = 0; i < TM; ++i) {
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      acc[i][j] = fmaf(a[i][0], b[j].x, acc[i][j]);
      acc[i][j] = fmaf(a[i][1], b[j].y, acc[i][j]);
      acc[i][j] = fmaf(a[i][2], b[j].z, acc[i][j]);
      acc[i][j] = fmaf(a[i][3], b[j].w, acc[i][j]);
    }
  }
}

template <int TM, int TN, class XT>
constexpr size_t stage_bytes() {
  return static_cast<size_t>(16 * TM) * XPitch<XT>::value * sizeof(XT) +
         static_cast<size_t>(16 * TN) * kWPitch * sizeof(float);
}


// One block: a (16*TM)-row x (16*TN)-expert tile of logits; `stages` 64-chunks in flight.
// Split (kSplit, blockIdx.z = segment s of `seg` chunks each): when the tiles alone cannot fill
// the GPU (mid-size n), the chunks are spread over gridDim.z segments too. Segment 0 folds its
// chunks 0 .. seg-1 into logits as usual — the contract's running total after chunk seg-1; every
// other segment stores each of its chunk sums into partials[(c - seg) * n * E + row * E + e], and
// canonical_fold_kernel then adds those to the logits in ascending chunk order. Each chunk sum and
// each addition is the contract's, in the contract's order: the same bits as one segment.
// Register budget: 8 x 8 and 8 x 6 tiles need ~250 registers (2 x 64 accumulators, 8 float4 of w,
// addresses): one block per SM. Capping the smaller tiles at 128 registers for two blocks per SM made
// them spill and run slower on the H100, so every tile gets the full budget.
template <int TM, int TN, class XT, bool kSplit = false>
__global__ void __launch_bounds__(kThreads, 1)
canonical_tiled_fast_kernel(const XT* __restrict__ x, int64_t ldx, const float* __restrict__ w,
                            int64_t n, int experts, int hidden, int stages, float* __restrict__ logits,
                            int seg = 0, float* __restrict__ partials = nullptr) {
  constexpr int BM = 16 * TM, BN = 16 * TN, XP = XPitch<XT>::value;
  constexpr int kXVec = 16 / static_cast<int>(sizeof(XT)), kXVecsPerRow = kChunk / kXVec;
  constexpr int kWVecsPerRow = kChunk / 4;
  static_assert(BM * kXVecsPerRow % kThreads == 0 && BN * kWVecsPerRow % kThreads == 0,
                "every thread issues the same number of copies");
  extern __shared__ __align__(16) unsigned char smem[];
  XT* const xs_base = reinterpret_cast<XT*>(smem);
  float* const ws_base = reinterpret_cast<float*>(smem + static_cast<size_t>(stages) * BM * XP * sizeof(XT));

  // A warp is 4 thread-rows x 8 thread-columns: per 16-byte shared load it reads 8 distinct w rows
  // (128 bytes) and 4 distinct x rows (64 bytes), one wavefront each. (2 x 16 measured the same on
  // the H100: shared memory is not the limit; see the note at the top.)
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int tx = lane % 8 + 8 * (warp % 2), ty = lane / 8 + 4 * (warp / 2);
  const int e0 = blockIdx.x * BN;  // blockIdx.x walks the experts: blocks sharing x rows run together
  const int64_t row0 = static_cast<int64_t>(blockIdx.y) * BM;
  const int all_chunks = (hidden + kChunk - 1) / kChunk;
  // This block's chunks: [first, chunks). Without a split, all of them.
  const int first = kSplit ? static_cast<int>(blockIdx.z) * seg : 0;
  const int chunks = kSplit ? min(all_chunks, first + seg) : all_chunks;

  // Copy assignment: consecutive threads copy consecutive 16 bytes of a row; a thread's copies are
  // kXRowStep (x) / kWRowStep (w) rows apart.
  constexpr int kXRowStep = kThreads / kXVecsPerRow, kXCopies = BM / kXRowStep;
  constexpr int kWRowStep = kThreads / kWVecsPerRow, kWCopies = BN / kWRowStep;
  const int xr = tid / kXVecsPerRow, xk = (tid % kXVecsPerRow) * kXVec;
  const int wr = tid / kWVecsPerRow, wk = (tid % kWVecsPerRow) * 4;
  // Whole tiles (all rows < n, all experts < E) copy their full chunks without per-copy checks, from
  // addresses computed once here.
  const bool whole = row0 + BM <= n && e0 + BN <= experts;
  const XT* const xg = x + (whole ? (row0 + xr) * ldx + xk : 0);
  const float* const wg = w + (whole ? static_cast<int64_t>(e0 + wr) * hidden + wk : 0);
  const int64_t xstep = kXRowStep * ldx, wstep = static_cast<int64_t>(kWRowStep) * hidden;

  // Copies chunk `chunk` into stage `s`.
  auto stage_load = [&](int chunk, int s) {
    const int k0 = chunk * kChunk, len = min(kChunk, hidden - k0);
    XT* const xs = xs_base + s * BM * XP + xr * XP + xk;
    float* const ws = ws_base + s * BN * kWPitch + wr * kWPitch + wk;
    if (whole && len == kChunk) {
#pragma unroll
      for (int it = 0; it < kXCopies; ++it) cp_async16(xs + it * kXRowStep * XP, xg + k0 + it * xstep);
#pragma unroll
      for (int it = 0; it < kWCopies; ++it) cp_async16(ws + it * kWRowStep * kWPitch, wg + k0 + it * wstep);
      return;
    }
#pragma unroll
    for (int it = 0; it < kXCopies; ++it) {
      const int64_t row = row0 + xr + it * kXRowStep;
      const bool ok = row < n && xk < len;  // len is a multiple of kXVec: whole vectors or none
      cp_async16(xs + it * kXRowStep * XP, ok ? x + row * ldx + k0 + xk : x, ok);
    }
#pragma unroll
    for (int it = 0; it < kWCopies; ++it) {
      const int e = e0 + wr + it * kWRowStep;
      const bool ok = e < experts && wk < len;
      cp_async16(ws + it * kWRowStep * kWPitch, ok ? w + static_cast<int64_t>(e) * hidden + k0 + wk : w, ok);
    }
  };

  for (int s = 0; s < stages - 1; ++s) {
    if (first + s < chunks) stage_load(first + s, s);
    cp_async_commit();  // empty groups too: the wait below counts groups
  }

  float total[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) total[i][j] = 0.0f;
  float acc[TM][TN];

  // Stages of chunk c and of chunk c + stages - 1, kept as counters (no integer division per chunk).
  int s = 0, s_next = stages - 1;
  for (int c = first; c < chunks; ++c) {
    cp_async_wait(stages - 2);  // chunk c has landed (for this thread's copies) ...
    __syncthreads();            // ... for everyone's; and everyone is done with chunk c - 1's stage
    if (c + stages - 1 < chunks) stage_load(c + stages - 1, s_next);  // into the stage chunk c - 1 used
    cp_async_commit();

    const XT* const xs = xs_base + s * BM * XP + ty * XP;
    const float* const ws = ws_base + s * BN * kWPitch + tx * kWPitch;
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;  // each chunk sum starts at +0.0f
    const int len = min(kChunk, hidden - c * kChunk);
    if (len == kChunk) {
#pragma unroll  // the whole chunk (unrolling 4 steps only measured ~2% slower)
      for (int k = 0; k < kChunk; k += 4) k4_step<TM, TN, XP>(xs, ws, k, acc);
    } else {  // the short last chunk stops at H (len % 4 == 0 on this path)
#pragma unroll 1
      for (int k = 0; k < len; k += 4) k4_step<TM, TN, XP>(xs, ws, k, acc);
    }
    if (kSplit && first > 0) {  // a later segment: the chunk sums go out, in order, to the fold
      float* const out = partials + static_cast<int64_t>(c - seg) * n * experts;
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const int64_t row = row0 + ty + 16 * i;
#pragma unroll
        for (int j = 0; j < TN; ++j) {
          const int e = e0 + tx + 16 * j;
          if (row < n && e < experts) out[row * experts + e] = acc[i][j];
        }
      }
    } else {
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) total[i][j] = c == 0 ? acc[i][j] : total[i][j] + acc[i][j];
    }
    s = s + 1 == stages ? 0 : s + 1;
    s_next = s_next + 1 == stages ? 0 : s_next + 1;
  }
  cp_async_wait(0);  // nothing is left in flight (the trailing groups are empty), but be tidy
  if (kSplit && first > 0) return;

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t row = row0 + ty + 16 * i;
    if (row >= n) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int e = e0 + tx + 16 * j;
      if (e < experts) logits[row * experts + e] = total[i][j];
    }
  }
}

// The split's second half: logits[i] (the running total after chunk seg - 1) + the later chunk
// sums in ascending chunk order. One thread per output; the loads of a thread are independent, so
// they run ahead of its chain of additions.
__global__ void canonical_fold_kernel(const float* __restrict__ partials, int later_chunks, int64_t outputs,
                                      float* __restrict__ logits) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < outputs; i += stride) {
    float total = logits[i];
#pragma unroll 8
    for (int c = 0; c < later_chunks; ++c) total = total + partials[c * outputs + i];
    logits[i] = total;
  }
}

// ---- host side ------------------------------------------------------------------------------------
struct ShapeDef {
  int tm, tn;
  float efficiency;  // relative FFMA throughput of a full SM with this tile (measured on the H100)
};
// Efficiencies: TFLOP/s of each tile at N = 16384 on the H100 relative to 128 x 128 (2026-11-25).
constexpr ShapeDef kShapes[] = {{8, 8, 1.00f}, {8, 6, 0.97f}, {8, 4, 0.90f}, {4, 8, 0.85f}, {4, 4, 0.87f}};
constexpr int kShapeCount = static_cast<int>(TiledShape::Count);
static_assert(sizeof(kShapes) / sizeof(kShapes[0]) == kShapeCount, "one definition per TiledShape");

struct KernelPlan {
  int stages = 0;       // 0: does not fit this device
  size_t smem = 0;
  int blocks_per_sm = 0;
};
struct DevicePlans {
  int sms = 0;
  KernelPlan plan[2][kShapeCount];  // [bf16][shape]
  KernelPlan split[2];              // [bf16]: the 64 x 64 tile with kSplit
};

// The deepest pipeline (<= 3 stages) that fits the device's per-block shared memory.
template <int TM, int TN, class XT, bool kSplit = false>
KernelPlan make_plan(size_t smem_optin) {
  const auto kernel = canonical_tiled_fast_kernel<TM, TN, XT, kSplit>;
  KernelPlan p;
  for (int stages = kMaxStages; stages >= 2 && p.stages == 0; --stages)
    if (stages * stage_bytes<TM, TN, XT>() <= smem_optin) p.stages = stages;
  if (p.stages == 0) return p;
  p.smem = p.stages * stage_bytes<TM, TN, XT>();
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(p.smem)),
        "cudaFuncSetAttribute(canonical_tiled_fast_kernel)");
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&p.blocks_per_sm, kernel, kThreads, p.smem),
        "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  if (p.blocks_per_sm < 1) p.stages = 0;
  return p;
}

template <class XT>
void make_plans(KernelPlan (&plan)[kShapeCount], size_t optin) {
  plan[0] = make_plan<8, 8, XT>(optin);
  plan[1] = make_plan<8, 6, XT>(optin);
  plan[2] = make_plan<8, 4, XT>(optin);
  plan[3] = make_plan<4, 8, XT>(optin);
  plan[4] = make_plan<4, 4, XT>(optin);
}

// Per device, measured once (the function attribute is per device context too).
const DevicePlans& plans_for_current_device() {
  static PerDeviceCache<DevicePlans> cache;
  return cache.get([](int device) {
    DevicePlans d;
    int optin = 0;
    check(cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
    check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
          "cudaDeviceGetAttribute");
    make_plans<float>(d.plan[0], static_cast<size_t>(optin));
    make_plans<uint16_t>(d.plan[1], static_cast<size_t>(optin));
    d.split[0] = make_plan<4, 4, float, true>(static_cast<size_t>(optin));
    d.split[1] = make_plan<4, 4, uint16_t, true>(static_cast<size_t>(optin));
    return d;
  });
}

// Estimated time ~ (blocks on the busiest SM) x (work of one block) / (tile efficiency): the tile
// that best fills the SMs wins. E.g. dsv4-pro (E = 384) at N = 4096: 128 x 96 tiles make 128 blocks
// for 132 SMs, 128 x 128 tiles 96; at N = 1024, 64 x 64 tiles (96 blocks) beat 128 x 64 (48).
// An SM holding two blocks runs each at about half speed, so occupancy does not enter the estimate.
TiledShape pick(const DevicePlans& d, int64_t n, int experts, bool bf16) {
  int best = -1;
  double best_cost = 0;
  for (int s = 0; s < kShapeCount; ++s) {
    if (d.plan[bf16][s].stages == 0) continue;
    const int bm = 16 * kShapes[s].tm, bn = 16 * kShapes[s].tn;
    const int64_t blocks = ((n + bm - 1) / bm) * ((experts + bn - 1) / bn);
    const int64_t per_sm = (blocks + d.sms - 1) / d.sms;
    const double cost = static_cast<double>(per_sm) * bm * bn / kShapes[s].efficiency;
    if (best < 0 || cost < best_cost) best = s, best_cost = cost;
  }
  return static_cast<TiledShape>(best);
}

template <int TM, int TN, class XT>
void launch_shape(const KernelPlan& p, const XT* x, int64_t ldx, const float* w, int64_t n, int experts,
                  int hidden, float* logits, cudaStream_t stream) {
  constexpr int BM = 16 * TM, BN = 16 * TN;
  constexpr int64_t kMaxRowBlocks = 65535;  // grid.y limit: very large n takes several launches
  for (int64_t r0 = 0; r0 < n; r0 += kMaxRowBlocks * BM) {
    const int64_t rows = std::min<int64_t>(n - r0, kMaxRowBlocks * BM);
    const dim3 grid(static_cast<unsigned>((experts + BN - 1) / BN), static_cast<unsigned>((rows + BM - 1) / BM));
    canonical_tiled_fast_kernel<TM, TN, XT><<<grid, kThreads, p.smem, stream>>>(
        x + r0 * ldx, ldx, w, rows, experts, hidden, p.stages, logits + r0 * experts);
    check_launch("canonical_tiled_fast_kernel");
  }
}

template <class XT>
void launch(TiledShape shape, const KernelPlan& p, const XT* x, int64_t ldx, const float* w, int64_t n,
            int experts, int hidden, float* logits, cudaStream_t stream) {
  switch (shape) {
    case TiledShape::R128E128: return launch_shape<8, 8>(p, x, ldx, w, n, experts, hidden, logits, stream);
    case TiledShape::R128E96: return launch_shape<8, 6>(p, x, ldx, w, n, experts, hidden, logits, stream);
    case TiledShape::R128E64: return launch_shape<8, 4>(p, x, ldx, w, n, experts, hidden, logits, stream);
    case TiledShape::R64E128: return launch_shape<4, 8>(p, x, ldx, w, n, experts, hidden, logits, stream);
    default: return launch_shape<4, 4>(p, x, ldx, w, n, experts, hidden, logits, stream);
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The split's geometry: `segments` segments of `seg` chunks (64 x 64 tiles).
struct SplitPlan {
  int segments = 0, seg = 0;
};

// Splits when the best plain tile leaves more than half of the GPU's block slots idle, into as many
// segments as one wave of 64 x 64 tiles holds (each at least 4 chunks), as far as the later chunk
// sums fit the scratch.
// The fold kernel reads and writes each output once and each stored chunk sum once: small next to
// the GEMM at these sizes (dsv4-pro N = 256: 40 MB, about L2-resident).
SplitPlan plan_split(const DevicePlans& d, TiledShape plain, int64_t n, int experts, int hidden, bool bf16,
                     const CanonicalSplitScratch& split) {
  const KernelPlan& p = d.split[bf16];
  if (!split.partials || p.stages == 0 || !canonical_split_wanted(n)) return {};
  const int s = static_cast<int>(plain);
  const int bm = 16 * kShapes[s].tm, bn = 16 * kShapes[s].tn;
  const int64_t slots = static_cast<int64_t>(d.sms) * std::max(p.blocks_per_sm, 1);
  const int64_t plain_blocks = ((n + bm - 1) / bm) * ((experts + bn - 1) / bn);
  if (plain_blocks * 2 > slots) return {};
  const int64_t tiles = ((n + 63) / 64) * ((experts + 63) / 64);
  const int chunks = (hidden + kChunk - 1) / kChunk;
  // At most one wave: a second, partly filled one would cost a whole segment's time again.
  int64_t want = std::min<int64_t>(slots / tiles, chunks / 4);
  for (; want >= 2; --want) {
    const int seg = static_cast<int>((chunks + want - 1) / want);
    const int segments = (chunks + seg - 1) / seg;
    const size_t floats = static_cast<size_t>(n) * experts * static_cast<size_t>(chunks - seg);
    if (segments >= 2 && floats <= split.floats) return {segments, seg};
  }
  return {};
}

template <class XT>
void launch_split(const SplitPlan& sp, const KernelPlan& p, const XT* x, int64_t ldx, const float* w, int64_t n,
                  int experts, int hidden, float* logits, float* partials, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((experts + 63) / 64), static_cast<unsigned>((n + 63) / 64),
                  static_cast<unsigned>(sp.segments));
  canonical_tiled_fast_kernel<4, 4, XT, true><<<grid, kThreads, p.smem, stream>>>(
      x, ldx, w, n, experts, hidden, p.stages, logits, sp.seg, partials);
  check_launch("canonical_tiled_fast_kernel (split)");
  const int chunks = (hidden + kChunk - 1) / kChunk;
  const int64_t outputs = n * experts;
  const int64_t blocks = std::min<int64_t>((outputs + 255) / 256, 65535);
  canonical_fold_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(partials, chunks - sp.seg, outputs,
                                                                          logits);
  check_launch("canonical_fold_kernel");
}

}  // namespace

const char* tiled_shape_name(TiledShape shape) {
  switch (shape) {
    case TiledShape::R128E128: return "128x128";
    case TiledShape::R128E96: return "128x96";
    case TiledShape::R128E64: return "128x64";
    case TiledShape::R64E128: return "64x128";
    case TiledShape::R64E64: return "64x64";
    default: return "auto";
  }
}

TiledShape canonical_tiled_pick(int64_t n, int experts, bool bf16) {
  return pick(plans_for_current_device(), n, experts, bf16);
}

void canonical_tiled_plan(TiledShape shape, bool bf16, int* stages, int* blocks_per_sm) {
  const int s = static_cast<int>(shape);
  const KernelPlan p = s >= 0 && s < kShapeCount ? plans_for_current_device().plan[bf16][s] : KernelPlan{};
  *stages = p.stages;
  *blocks_per_sm = p.blocks_per_sm;
}

TiledRun canonical_tiled_fast(XView x, const float* w, int64_t n, int experts, int hidden, float* logits,
                              cudaStream_t stream, TiledShape shape, const CanonicalSplitScratch& split) {
  // 16-byte copies need every row start 16-byte aligned: H and ld multiples of 4 floats / 8 bf16.
  const int vec = x.bf16 ? 8 : 4;
  if (n <= 0 || hidden <= 0 || hidden % vec != 0 || x.ld % vec != 0 || !aligned16(x.data) || !aligned16(w))
    return TiledRun::Declined;
  const DevicePlans& d = plans_for_current_device();
  const bool automatic = shape == TiledShape::Auto;
  if (automatic) shape = pick(d, n, experts, x.bf16);
  if (static_cast<int>(shape) < 0) return TiledRun::Declined;
  const KernelPlan& p = d.plan[x.bf16][static_cast<int>(shape)];
  if (p.stages == 0) return TiledRun::Declined;
  const SplitPlan sp = automatic ? plan_split(d, shape, n, experts, hidden, x.bf16, split) : SplitPlan{};
  if (sp.segments >= 2) {
    if (x.bf16)
      launch_split(sp, d.split[1], static_cast<const uint16_t*>(x.data), x.ld, w, n, experts, hidden, logits,
                   split.partials, stream);
    else
      launch_split(sp, d.split[0], static_cast<const float*>(x.data), x.ld, w, n, experts, hidden, logits,
                   split.partials, stream);
    return TiledRun::Split;
  }
  if (x.bf16)
    launch(shape, p, static_cast<const uint16_t*>(x.data), x.ld, w, n, experts, hidden, logits, stream);
  else
    launch(shape, p, static_cast<const float*>(x.data), x.ld, w, n, experts, hidden, logits, stream);
  return TiledRun::Tiled;
}

}  // namespace moerouter::cuda::detail
