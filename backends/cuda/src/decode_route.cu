// The decode router: the whole route of a small batch (n <= 64) in one kernel launch.
//
// Why one launch: at n = 1 the work is ~3 us of weight streaming; separate GEMM and epilogue
// kernels (plus cuBLAS's own) cost more than that in launch gaps alone.
//
// GEMM phase. Block (bx, by) owns the outputs of `eb` experts x `rb` rows and walks all of K, so
// every output's chunk sums meet in one block and can be added in the contract's order without
// any global scratch (DESIGN.md §2: a chunk sum is a 64-step fmaf chain from +0.0f in ascending
// k; the total is c0 + c1 + ... left to right). K goes in slices of `s` chunks: the block stages
// the slice of its x rows and of its weight rows in shared memory (coalesced, all loads in flight
// at once: cp.async for f32 copies and for the bf16 weights' raw bits, else register batches), then
// each thread takes items (chunk, R rows, XT experts) and runs the R x XT chunk chains side by side
// (independent fmaf chains, 16-byte shared loads; a short last chunk stops at H), chunk sums go to
// shared memory, and one owner thread per output folds the slice's chunk
// sums into its running total in ascending chunk order. The grid is sized to ~one block per SM;
// blocks split the experts (and, for n > 16, the rows), so W is read about once (from L2 under
// graph replay) and x once per expert block.
//
// Activation in the GEMM phase. For sqrtsoftplus and sigmoid the owner thread finishes its element
// as warp_activate_row would (canonicalized copy to logits_out, activate_row on that single
// element) and stores the activation in a.epi.logits, so the transcendental work is spread over
// the whole GPU instead of one block. Softmax needs whole rows, and a non-finite count without
// logits_out needs the logits: those cases store the logits and the tail runs warp_route_row.
//
// Tail. Each block bumps its row block's field of a.grid_counter after a fence; the block that
// completes a row block (the last of its gx expert blocks) resets that field and routes those rows,
// one warp per row: the row is copied (L2 loads) into the warp's shared buffer, then
// warp_select_row (after the row's non-finite count) or warp_route_row — the epilogue's own code,
// so the outputs are the CPU's bits given these logits (groups of exactly 32 experts take the
// standalone kernel's group register path, as that kernel does). The selection reads the bias from shared
// memory (its dependent loop would otherwise wait on L2 for every expert); every block prefetches
// it there with its first slice, as any block may turn out to be the last. The counter holds one 8-bit field per row
// block (<= 4 row blocks, <= 255 expert blocks each) or one 32-bit field; it is zero again after
// every launch, so graph replays need no reset.
//
// Modes: canonical, and fp32 (the canonical order is a valid fp32 result, and no faster order
// exists here for free); bf16 rounds x to bf16 (nearest even, quiet NaN, as core's float_to_bf16)
// when staging it and reads the bf16 weights (half the bytes), FP32 accumulation in the same order.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>

#include <cuda_pipeline.h>

#include "cuda_check.hpp"
#include "decode_route.hpp"
#include "decode_route_testing.hpp"
#include "per_device_cache.hpp"
#include "epilogue_device.cuh"
#include "kernels.hpp"
#include "moerouter/config.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/error.hpp"
#include "moerouter/fmath.hpp"

namespace moerouter::cuda::detail {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kChunk = kCanonicalChunk;
static_assert(kChunk == 64, "the staging layout is built around contract version 1 (C = 64)");
// Shared-memory strides of one chunk, 16-byte aligned rows: fp32 68 floats (272 B), bf16 72 halves
// (144 B). Both are 4 banks (mod 32) apart from chunk to chunk, so the 16-byte reads of 8 lanes on
// 8 consecutive chunks (one phase of a 128-bit shared load) hit 32 distinct banks.
constexpr int kPad = kChunk + 4;
constexpr int kPadBf16 = kChunk + 8;
constexpr int kMaxRowsPerBlock = 16;

struct Geom {
  int rb, eb, s;          // rows, experts per block; chunks per slice
  int bias_floats;        // shared floats reserved in front for the bias (E rounded up to 4)
  int field_bits;         // bits of a.grid_counter per row block (8 or 32)
  bool act_in_gemm;       // owners store activations (else logits)
  bool vec;               // 4-element vector staging is aligned
  bool w_async;           // bf16 W staged by 16-byte cp.async (H % 8 == 0, W 16-byte aligned)
  bool x_async;           // bf16 x staged by 16-byte cp.async (H and the row stride % 8 == 0, aligned)
  unsigned long long* trace;  // test hook: per-block phase timestamps (kTraceSlots each), or nullptr
};

// Phase timestamps (ns, %globaltimer) of thread 0 of each block, for the benchmark's breakdown
// (decode_route_testing.hpp lists the slots).
constexpr int kTraceSlots = kDecodeTraceSlots;
__device__ __forceinline__ unsigned long long* trace_slot(unsigned long long* trace, int i) {
  return trace + (static_cast<size_t>(blockIdx.y) * gridDim.x + blockIdx.x) * kTraceSlots + i;
}
__device__ __forceinline__ void trace_stamp(unsigned long long* slot) {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  *slot = t;
}
__device__ __forceinline__ void trace_point(const Geom& g, int i) {
  if (g.trace && threadIdx.x == 0) trace_stamp(trace_slot(g.trace, i));
}

__device__ __forceinline__ float bf16_bits_to_float(uint32_t b) { return __uint_as_float(b << 16); }

// Same rounding as core's float_to_bf16 (tensor.cpp): nearest even, NaN kept quiet.
__device__ __forceinline__ float round_to_bf16(float f) {
  const uint32_t u = __float_as_uint(f);
  uint32_t b;
  if ((u & 0x7FFFFFFFu) > 0x7F800000u)
    b = (u >> 16) | 0x0040u;
  else
    b = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return bf16_bits_to_float(b & 0xFFFFu);
}

// Four consecutive floats (16-byte aligned by the caller's vec check).
__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ float load1(const float* p) { return *p; }
__device__ __forceinline__ float load1(const uint16_t* p) { return bf16_bits_to_float(*p); }

// Eight consecutive staged elements as floats (16-byte aligned shared memory).
__device__ __forceinline__ void load8(const float* p, float (&v)[8]) {
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
__device__ __forceinline__ void load8(const uint16_t* p, float (&v)[8]) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = bf16_bits_to_float(w[i] & 0xFFFFu);
    v[2 * i + 1] = bf16_bits_to_float(w[i] >> 16);
  }
}

// Stages `rows` rows of src (row stride ld) over k in [k0, k0 + klen) into dst[row][chunk][kPad]
// as floats. Elements past H in a short last chunk are left as they are: the chains stop at H. Each
// thread issues U loads before storing any, so a block keeps U x 4 KB (vector path) in flight.
template <int U, bool kRound, class T>
__device__ __forceinline__ void stage_rows(const T* __restrict__ src, int64_t ld, int rows, int k0,
                                           int klen, int s, bool vec, float* __restrict__ dst) {
  if (vec) {  // klen is a multiple of 4 (H % 4 == 0 and k0 % 64 == 0)
    const int q = klen / 4, total = rows * q;
    for (int base = threadIdx.x; base < total; base += kThreads * U) {
      float4 v[U];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int i = base + u * kThreads;
        if (i < total) {
          const int r = i / q, k = (i - r * q) * 4;
          v[u] = load4(src + r * ld + k0 + k);
        }
      }
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int i = base + u * kThreads;
        if (i < total) {
          const int r = i / q, k = (i - r * q) * 4;
          if (kRound) {
            v[u].x = round_to_bf16(v[u].x);
            v[u].y = round_to_bf16(v[u].y);
            v[u].z = round_to_bf16(v[u].z);
            v[u].w = round_to_bf16(v[u].w);
          }
          *reinterpret_cast<float4*>(dst + (r * s + k / kChunk) * kPad + k % kChunk) = v[u];
        }
      }
    }
  } else {
    for (int i = threadIdx.x; i < rows * klen; i += kThreads) {
      const int r = i / klen, k = i - r * klen;
      float v = load1(src + r * ld + k0 + k);
      if (kRound) v = round_to_bf16(v);
      dst[(r * s + k / kChunk) * kPad + k % kChunk] = v;
    }
  }
}

// The same for f32 rows copied as they are (canonical and fp32 modes, f32 x): cp.async puts every
// 16-byte piece in flight at once without passing through registers. The caller waits
// (__pipeline_wait_prior(0)) before its __syncthreads.
__device__ __forceinline__ void stage_rows_async(const float* __restrict__ src, int64_t ld, int rows, int k0,
                                                 int klen, int s, float* __restrict__ dst) {
  const int q = klen / 4, total = rows * q;
  for (int i = threadIdx.x; i < total; i += kThreads) {
    const int r = i / q, k = (i - r * q) * 4;
    __pipeline_memcpy_async(dst + (r * s + k / kChunk) * kPad + k % kChunk, src + r * ld + k0 + k, 16);
  }
}

// bf16 weight rows staged as bf16 bits into dst[row][chunk][kPadBf16] (widened when read): half
// the bytes of the f32 staging, all in flight at once by 16-byte cp.async when `async` (klen and
// every row start multiples of 8 elements), else element by element.
__device__ __forceinline__ void stage_rows_bf16(const uint16_t* __restrict__ src, int64_t ld, int rows, int k0,
                                                int klen, int s, bool async, uint16_t* __restrict__ dst) {
  if (async) {
    const int q = klen / 8, total = rows * q;
    for (int i = threadIdx.x; i < total; i += kThreads) {
      const int r = i / q, k = (i - r * q) * 8;
      __pipeline_memcpy_async(dst + (r * s + k / kChunk) * kPadBf16 + k % kChunk, src + r * ld + k0 + k, 16);
    }
  } else {
#pragma unroll 8
    for (int i = threadIdx.x; i < rows * klen; i += kThreads) {
      const int r = i / klen, k = i - r * klen;
      dst[(r * s + k / kChunk) * kPadBf16 + k % kChunk] = src[r * ld + k0 + k];
    }
  }
}

// The row's values at `src` (written by other blocks: read through L2) into registers, all J loads
// in flight at once: one L2 round trip for the row (0.4 us on an H100, decode trace 2026-12-07),
// and no copy through the warp's shared buffer.
template <int J>
__device__ __forceinline__ void warp_load_row_l2(const float* src, int E, float (&v)[J]) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int j = 0; j < J; ++j) v[j] = lane + 32 * j < E ? __ldcg(src + lane + 32 * j) : 0.0f;
}

// The same into the warp's shared row buffer (the list and softmax paths), eight loads in flight.
__device__ __forceinline__ void warp_load_row_l2(const float* src, int E, float* rowbuf) {
  const int lane = threadIdx.x % 32;
  for (int e0 = lane; e0 < E; e0 += 32 * 8) {
    float v[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = e0 + 32 * i < E ? __ldcg(src + e0 + 32 * i) : 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i)
      if (e0 + 32 * i < E) rowbuf[e0 + 32 * i] = v[i];
  }
  __syncwarp();
}

// The non-finite count of an activated row (act_in_gemm with a count implies logits_out, see
// plan()): the owners' canonical logits, loaded all at once; one exponent test per element.
template <int J>
__device__ __forceinline__ void warp_count_row_l2(const EpilogueArgs& epi, int64_t row) {
  const int E = static_cast<int>(epi.params.experts);
  float l[J];
  warp_load_row_l2<J>(epi.logits_out + row * E, E, l);
  warp_count_nonfinite(epi, row, lane_values_finite<J>(E, l));
}

// The same for the list and softmax paths (any E): eight loads in flight per lane.
__device__ __forceinline__ void warp_count_row_l2_any(const EpilogueArgs& epi, int64_t row) {
  const int lane = threadIdx.x % 32;
  const int E = static_cast<int>(epi.params.experts);
  const float* src = epi.logits_out + row * E;
  bool finite = true;
  for (int e0 = lane; e0 < E; e0 += 32 * 8) {
    float v[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = e0 + 32 * i < E ? __ldcg(src + e0 + 32 * i) : 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i) finite = finite & fmath::is_finite(v[i]);
  }
  warp_count_nonfinite(epi, row, finite);
}

// The tail's register path for one row (no hash table; no group limit, or groups of exactly 32
// experts, which warp_select_registers' Fresh instance selects with group slots): the activations
// at `src` (the owners activated them), the non-finite count, the selection and the outputs.
// Inlined into decode_tail (itself compiled once): as a separate call, every field of the
// EpilogueArgs it takes by reference would be read from local memory inside the selection's chain.
__device__ __forceinline__ void decode_select_registers(const EpilogueArgs& epi, int64_t row, const float* src,
                                                        unsigned long long* landed) {
  const int E = static_cast<int>(epi.params.experts);
  with_register_width(E, [&](auto width) {
    constexpr int J = decltype(width)::value;
    float act[J];
    warp_load_row_l2<J>(src, E, act);  // the row's activations (0 past E)
    if (landed && threadIdx.x % 32 == 0) {
      // A volatile store of the first and last loaded values waits on both loads; the stamp, issued
      // in order after it, is the moment the row is in registers.
      volatile float sink = act[0] + act[J - 1];
      (void)sink;
      trace_stamp(landed);
    }
    if (epi.nonfinite) warp_count_row_l2<J>(epi, row);
    warp_select_registers<J, true>(epi, row, act);
  });
}

// The tail of the block that completed a row block: routes its rows, one warp per row. Not inlined:
// it is the same code for every kernel instance (and most of their compile time when inlined).
// `epi` is the kernel's copy of its EpilogueArgs (bias pointing at the shared copy), in local
// memory: the tail's reads of it hit L1. (Read in place from the __grid_constant__ parameter, each
// was a generic load of the parameter space: ~0.5 us from entering the tail to its first row load in
// the decode trace, H100 2026-12-07.)
__device__ __noinline__ void decode_tail(const EpilogueArgs& epi, const Geom& g, float* work, int row0, int rb) {
  trace_point(g, 8);
  const int tid = threadIdx.x;
  const int E = static_cast<int>(epi.params.experts);
  const int warp = tid / 32;
  float* rowbuf = work + warp * E;
  const int scratch_off = (kWarps * E + 3) / 4 * 4;
  WarpRowScratch* scratch = reinterpret_cast<WarpRowScratch*>(work + scratch_off) + warp;
  // The register path: no hash table, and no group limit or groups of exactly 32 experts
  // (DeepSeek-V3; warp_select_registers' Fresh instance selects those with group slots).
  const bool registers = g.act_in_gemm && (register_path_applies(epi) || group_register_path_applies(epi));
  for (int r = warp; r < rb; r += kWarps) {
    const int64_t row = row0 + r;
    const float* src = epi.logits + row * E;
    if (r == 0) trace_point(g, 7);
    if (registers) {
      decode_select_registers(epi, row, src, r == 0 && g.trace ? trace_slot(g.trace, 9) : nullptr);
    } else {
      warp_load_row_l2(src, E, rowbuf);
      if (r == 0) trace_point(g, 9);
      if (g.act_in_gemm && epi.nonfinite) warp_count_row_l2_any(epi, row);  // act_in_gemm + count: logits_out
      if (g.act_in_gemm)
        warp_select_row(epi, row, rowbuf, *scratch);
      else
        warp_route_row(epi, row, rowbuf, *scratch);
    }
    __syncwarp();
  }
  __syncthreads();
  trace_point(g, 6);
}

// An owner's output: the activation (what warp_activate_row does for this element) or the logit.
// Not inlined: the exact activation is long and the same in every kernel instance.
__device__ __noinline__ void decode_store_output(const FusedRouteArgs& a, bool act_in_gemm, int64_t idx, float total) {
  if (act_in_gemm) {
    if (a.epi.logits_out) a.epi.logits_out[idx] = fmath::canonicalize(total);
    float act;
    epilogue::activate_row(&total, 1, a.epi.params.score, &act);
    a.epi.logits[idx] = act;
  } else {
    a.epi.logits[idx] = total;
  }
}

template <class XIn, bool kBf16, int R, int XT>
__global__ void __launch_bounds__(kThreads) decode_route_kernel(const __grid_constant__ FusedRouteArgs a, Geom g) {
  extern __shared__ float4 smem4[];
  float* smem = reinterpret_cast<float*>(smem4);
  __shared__ bool s_last;
  using WT = typename std::conditional<kBf16, uint16_t, float>::type;  // W in global and shared memory
  constexpr int kPadW = kBf16 ? kPadBf16 : kPad;
  const WT* w = nullptr;
  if constexpr (kBf16) w = a.w_bf16; else w = a.w_f32;
  const XIn* x = static_cast<const XIn*>(a.x.data);

  const int tid = threadIdx.x;
  const int H = static_cast<int>(a.hidden), E = static_cast<int>(a.experts);
  const int e0 = blockIdx.x * g.eb;
  const int row0 = blockIdx.y * g.rb;
  const int eb = min(g.eb, E - e0), rb = min(g.rb, static_cast<int>(a.n) - row0);
  const int chunks = (H + kChunk - 1) / kChunk;
  const int S = g.s;
  float* bias_s = smem;                    // [E]: the tail's bias, prefetched now
  float* work = smem + g.bias_floats;      // the GEMM's slices, later the tail's row buffers
  // x in shared memory: bf16 x as its raw bits (exact when widened), f32 x as floats (rounded to
  // bf16 values in bf16 mode).
  using XS = XIn;
  constexpr int kPadX = sizeof(XIn) == 2 ? kPadBf16 : kPad;
  XS* xs = reinterpret_cast<XS*>(work);                                       // [g.rb][S][kPadX]
  WT* ws = reinterpret_cast<WT*>(xs + g.rb * S * kPadX);                      // [g.eb][S][kPadW]
  float* part = reinterpret_cast<float*>(ws + static_cast<size_t>(g.eb) * S * kPadW);  // [g.rb * g.eb][S + 1]
  const int owners = rb * eb;
  const int own_r = tid / eb, own_e = tid - (tid / eb) * eb;
  const int rgroups = (rb + R - 1) / R, egroups = (eb + XT - 1) / XT;
  const XIn* xrows = x + static_cast<int64_t>(row0) * a.x.ld;
  const WT* wrows = w + static_cast<int64_t>(e0) * H;

  trace_point(g, 0);
  // Whichever block ends up running the tail needs the bias then; fetching it now, with the first
  // slice, takes that L2/DRAM round trip off the tail's critical path (1.5 KB per block).
  if (a.epi.params.bias)
    for (int e = tid; e < E; e += kThreads) __pipeline_memcpy_async(bias_s + e, a.epi.params.bias + e, 4);
  __pipeline_commit();
  float total = 0.0f;
  for (int c0 = 0; c0 < chunks; c0 += S) {
    const int sc = min(S, chunks - c0);
    const int k0 = c0 * kChunk;
    const int klen = min(sc * kChunk, H - k0);
    // W: f32 copied as is (cp.async when aligned), or the bf16 bits as they are.
    if constexpr (!kBf16) {
      if (g.vec) stage_rows_async(wrows, static_cast<int64_t>(H), eb, k0, klen, S, ws);
      else stage_rows<16, false>(wrows, static_cast<int64_t>(H), eb, k0, klen, S, false, ws);
    } else {
      stage_rows_bf16(wrows, static_cast<int64_t>(H), eb, k0, klen, S, g.w_async, ws);
    }
    // x: bf16 bits as they are; f32 as is (cp.async when aligned) or, in bf16 mode, rounded to bf16
    // (as the CPU's bf16 mode) on its way through registers.
    if constexpr (sizeof(XIn) == 2) {
      stage_rows_bf16(xrows, a.x.ld, rb, k0, klen, S, g.x_async, xs);
    } else if constexpr (!kBf16) {
      if (g.vec) stage_rows_async(xrows, a.x.ld, rb, k0, klen, S, xs);
      else stage_rows<8, false>(xrows, a.x.ld, rb, k0, klen, S, false, xs);
    } else {
      stage_rows<8, true>(xrows, a.x.ld, rb, k0, klen, S, g.vec, xs);
    }
    __pipeline_commit();
    __pipeline_wait_prior(0);
    __syncthreads();
    if (c0 == 0) trace_point(g, 1);
    const int items = sc * rgroups * egroups;
    for (int it = tid; it < items; it += kThreads) {
      const int ci = it % sc, rest = it / sc;
      const int rg = rest % rgroups, eg = rest / rgroups;
      const XS* xp[R];
      const WT* wp[XT];
#pragma unroll
      for (int i = 0; i < R; ++i) xp[i] = xs + (min(rg * R + i, rb - 1) * S + ci) * kPadX;
#pragma unroll
      for (int j = 0; j < XT; ++j) wp[j] = ws + (min(eg * XT + j, eb - 1) * S + ci) * kPadW;
      float acc[R][XT];
#pragma unroll
      for (int i = 0; i < R; ++i)
#pragma unroll
        for (int j = 0; j < XT; ++j) acc[i][j] = 0.0f;  // every chunk chain starts at +0.0f
      const int len = min(kChunk, H - (k0 + ci * kChunk));
      if (len == kChunk) {
#pragma unroll 2
        for (int kk = 0; kk < kChunk; kk += 8) {
          float xv[R][8], wv[XT][8];
#pragma unroll
          for (int i = 0; i < R; ++i) load8(xp[i] + kk, xv[i]);
#pragma unroll
          for (int j = 0; j < XT; ++j) load8(wp[j] + kk, wv[j]);
#pragma unroll
          for (int q = 0; q < 8; ++q)  // ascending k within each chain
#pragma unroll
            for (int i = 0; i < R; ++i)
#pragma unroll
              for (int j = 0; j < XT; ++j) acc[i][j] = fmaf(xv[i][q], wv[j][q], acc[i][j]);
        }
      } else {  // the short last chunk: stop at H
        for (int kk = 0; kk < len; ++kk)
#pragma unroll
          for (int i = 0; i < R; ++i)
#pragma unroll
            for (int j = 0; j < XT; ++j) acc[i][j] = fmaf(load1(xp[i] + kk), load1(wp[j] + kk), acc[i][j]);
      }
#pragma unroll
      for (int i = 0; i < R; ++i)
#pragma unroll
        for (int j = 0; j < XT; ++j) {
          const int r = rg * R + i, e = eg * XT + j;
          if (r < rb && e < eb) part[(r * g.eb + e) * (S + 1) + ci] = acc[i][j];
        }
    }
    __syncthreads();
    if (c0 == 0) trace_point(g, 2);
    if (tid < owners) {  // the contract's order: t = c0; t = t + c1; ... (a dependent chain:
      // unrolled so the loads run ahead)
      const float* p = part + (own_r * g.eb + own_e) * (S + 1);
      int j = 0;
      if (c0 == 0) total = p[j++];
#pragma unroll 8
      for (; j < sc; ++j) total = total + p[j];
    }
    __syncthreads();  // the next slice overwrites xs, ws, part
  }

  trace_point(g, 3);
  if (tid < owners)
    decode_store_output(a, g.act_in_gemm, static_cast<int64_t>(row0 + own_r) * E + (e0 + own_e), total);

  // Completion: the last expert block of this row block runs the tail. One thread per block
  // publishes, as a grid barrier does: the barrier makes the block's outputs visible to thread 0,
  // and its counter add with release semantics (cumulative) releases them all; its acquire half
  // makes the other blocks' outputs visible to the last block's thread 0, and the barrier passes
  // that on to its warps. One acq_rel atomic instead of fence (fence.sc), add, fence: the same
  // time in the trace (H100, 2026-12-07), fewer instructions. (A fence in every thread cost each
  // its own wait on the memory system.)
  __syncthreads();
  trace_point(g, 4);
  if (tid == 0) {
    const unsigned shift = g.field_bits == 32 ? 0u : static_cast<unsigned>(g.field_bits) * blockIdx.y;
    const unsigned mask = g.field_bits == 32 ? 0xFFFFFFFFu : (1u << g.field_bits) - 1u;
    unsigned old;
    asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], %2;"
                 : "=r"(old)
                 : "l"(a.grid_counter), "r"(1u << shift)
                 : "memory");
    const bool last = ((old >> shift) & mask) == gridDim.x - 1;
    // This field back to 0 for the next launch (stream-ordered after this one): nothing in this
    // launch waits on it.
    if (last) atomicSub(a.grid_counter, gridDim.x << shift);
    s_last = last;
  }
  __syncthreads();
  trace_point(g, 5);
  if (!s_last) return;
  // The selection reads bias[e] once per expert in a loop whose iterations wait on each other: from
  // global memory every read is an L2 round trip (measured: 10-20 us for one row), so the tail reads
  // the shared copy every block prefetched at its start (the same values: the same bits come out).
  // The GEMM loop (at least one slice) waited on every cp.async group, the bias's included, and
  // ended with a barrier: bias_s is complete here.
  EpilogueArgs epi = a.epi;
  if (epi.params.bias) epi.params.bias = bias_s;
  decode_tail(epi, g, work, row0, rb);
}

// ---- plan and launch ----------------------------------------------------------------------------

std::atomic<int> g_rows_override{0}, g_experts_override{0}, g_budget_override{0};
std::atomic<unsigned long long*> g_trace{nullptr};

// Shared memory per block for the slices; the carveout is set to what a block needs, so the rest
// stays L1 for the tail's local-memory arrays (warp_select_row's ranked lists).
constexpr int kDefaultBudget = 160 * 1024;

struct Plan {
  Geom g;
  int gx, gy, R, XT;
  size_t smem;
  int carveout;  // percent of the SM's shared-memory maximum: one block's need, the rest stays L1
};

struct DeviceLimits {
  int sms, smem_optin, smem_per_sm;
};

// Queried once per device (three driver calls per launch otherwise).
DeviceLimits device_limits() {
  static PerDeviceCache<DeviceLimits> cache;
  return cache.get([](int dev) {
    int sms = 0, smem = 0, per_sm = 0;
    check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
    check(cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "cudaDeviceGetAttribute");
    check(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev),
          "cudaDeviceGetAttribute");
    return DeviceLimits{std::max(sms, 1), smem, std::max(per_sm, 1)};
  });
}

Plan plan(int64_t n64, int64_t E64, int64_t H64, DeviceLimits dl, bool act_in_gemm, bool vec, bool bf16,
          bool w_async, bool x_bf16, bool x_async) {
  const int sms = dl.sms;
  const int n = static_cast<int>(n64), E = static_cast<int>(E64), H = static_cast<int>(H64);
  const int chunks = (H + kChunk - 1) / kChunk;
  Plan p{};
  int rb = g_rows_override.load();
  if (rb <= 0) rb = std::min(n, kMaxRowsPerBlock);
  rb = std::min(std::max(rb, (n + 3) / 4), std::min(n, kMaxRowsPerBlock));  // <= 4 row blocks
  p.gy = (n + rb - 1) / rb;
  int eb = g_experts_override.load();
  if (eb <= 0) eb = static_cast<int>((static_cast<int64_t>(E) * p.gy + sms - 1) / sms);
  eb = std::max(1, std::min({eb, E, kThreads / rb}));  // one owner thread per output
  p.gx = (E + eb - 1) / eb;
  if (p.gy > 1 && p.gx > 255) {  // 8-bit counter fields: fewer, larger expert blocks
    eb = std::min((E + 254) / 255, kThreads / rb);
    p.gx = (E + eb - 1) / eb;
  }
  // Shared memory: the bias in front (kept through the GEMM for the tail), then the larger of the
  // GEMM's slices and the tail's row buffers. Slices: as many chunks as the budget holds, balanced.
  const int bias_floats = (E + 3) / 4 * 4;
  const int budget = std::min(g_budget_override.load() > 0 ? g_budget_override.load() : kDefaultBudget,
                              dl.smem_optin - 64) - bias_floats * 4;
  const int w_chunk_bytes = bf16 ? kPadBf16 * 2 : kPad * 4;
  const int x_chunk_bytes = x_bf16 ? kPadBf16 * 2 : kPad * 4;
  const int per_chunk = rb * x_chunk_bytes + eb * w_chunk_bytes + rb * eb * 4;
  int s = std::max(1, std::min(chunks, (budget - rb * eb * 4) / per_chunk));
  const int slices = (chunks + s - 1) / s;
  s = (chunks + slices - 1) / slices;
  const size_t gemm_bytes = static_cast<size_t>(rb) * s * x_chunk_bytes + static_cast<size_t>(eb) * s * w_chunk_bytes +
                            static_cast<size_t>(rb) * eb * (s + 1) * 4;
  const size_t tail_bytes = static_cast<size_t>((kWarps * E + 3) / 4 * 4) * 4 + kWarps * sizeof(WarpRowScratch);
  p.smem = static_cast<size_t>(bias_floats) * 4 + std::max(gemm_bytes, tail_bytes);
  p.carveout = static_cast<int>(std::min<int64_t>(
      100, (static_cast<int64_t>(p.smem) + 2048) * 100 / dl.smem_per_sm + 1));
  p.g = Geom{rb, eb, s, bias_floats, p.gy > 1 ? 8 : 32, act_in_gemm, vec, w_async, x_async, g_trace.load()};
  // Register tile per item (R rows x XT experts of independent chains): rows first (x reuse across
  // experts pays with several rows); with few rows, enough experts per item that the block's
  // threads take every chain in one round (at n = 1 a round is a 64-step dependent chain, so fewer,
  // wider items finish sooner than two rounds of single chains).
  p.R = rb >= 4 ? 4 : rb >= 2 ? 2 : 1;
  const int rgroups = (rb + p.R - 1) / p.R;
  if (rb >= 8) {
    p.XT = eb >= 4 ? 4 : eb >= 2 ? 2 : 1;
  } else {
    p.XT = 1;
    // (XT <= 2 below four rows: every (R, XT) pair is a kernel instance, each minutes of ptxas.)
    const int max_xt = p.R == 4 ? 4 : 2;
    while (p.XT < max_xt && p.XT < eb && static_cast<int64_t>(s) * rgroups * ((eb + p.XT - 1) / p.XT) > kThreads)
      p.XT *= 2;
  }
  return p;
}

template <class XIn, bool kBf16, int R, int XT>
void launch_one(const FusedRouteArgs& a, const Plan& p, cudaStream_t stream) {
  auto kernel = decode_route_kernel<XIn, kBf16, R, XT>;
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(p.smem)),
        "cudaFuncSetAttribute(decode_route_kernel)");
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, p.carveout),
        "cudaFuncSetAttribute(decode_route_kernel carveout)");
  kernel<<<dim3(static_cast<unsigned>(p.gx), static_cast<unsigned>(p.gy)), kThreads, p.smem, stream>>>(a, p.g);
  check_launch("decode_route_kernel");
}

template <class XIn, bool kBf16>
void launch_tile(const FusedRouteArgs& a, const Plan& p, cudaStream_t stream) {
  if (p.R == 4 && p.XT == 4) return launch_one<XIn, kBf16, 4, 4>(a, p, stream);
  if (p.R == 4 && p.XT == 2) return launch_one<XIn, kBf16, 4, 2>(a, p, stream);
  if (p.R == 4 && p.XT == 1) return launch_one<XIn, kBf16, 4, 1>(a, p, stream);
  if (p.R == 2 && p.XT == 2) return launch_one<XIn, kBf16, 2, 2>(a, p, stream);
  if (p.R == 2) return launch_one<XIn, kBf16, 2, 1>(a, p, stream);
  if (p.XT == 2) return launch_one<XIn, kBf16, 1, 2>(a, p, stream);
  return launch_one<XIn, kBf16, 1, 1>(a, p, stream);
}

bool act_in_gemm_for(const EpilogueArgs& e) {
  return e.params.score != ScoreFn::Softmax && (e.nonfinite == nullptr || e.logits_out != nullptr);
}

bool w_async_ok(const FusedRouteArgs& a) {
  return a.hidden % 8 == 0 && reinterpret_cast<uintptr_t>(a.w_bf16) % 16 == 0;
}

bool x_async_ok(const FusedRouteArgs& a) {
  return a.x.bf16 && a.hidden % 8 == 0 && a.x.ld % 8 == 0 && reinterpret_cast<uintptr_t>(a.x.data) % 16 == 0;
}

bool vec_ok(const FusedRouteArgs& a, GemmMode mode) {
  const auto addr = reinterpret_cast<uintptr_t>(a.x.data);
  const bool x_ok = a.x.ld % 4 == 0 && addr % (a.x.bf16 ? 8 : 16) == 0;
  const bool w_ok = mode == GemmMode::Bf16 ? reinterpret_cast<uintptr_t>(a.w_bf16) % 8 == 0
                                            : reinterpret_cast<uintptr_t>(a.w_f32) % 16 == 0;
  return a.hidden % 4 == 0 && x_ok && w_ok;
}

}  // namespace

bool decode_route_supports(GemmMode mode, int64_t n, int64_t experts, int64_t hidden) {
  (void)mode;
  return n >= 1 && n <= kDecodeMaxRows && experts >= 1 && experts <= kMaxExperts && hidden >= 1 &&
         hidden <= (1 << 30);
}

void decode_route(GemmMode mode, const FusedRouteArgs& a, cudaStream_t stream, bool w_bf16_exact) {
  if (!decode_route_supports(mode, a.n, a.experts, a.hidden))
    fail(ErrorCode::Internal, "decode_route called on an unsupported shape: n=", a.n, " E=", a.experts,
         " H=", a.hidden);
  // The bf16-W instance: bf16 mode, or W's f32 values are bf16 values and x is bf16 (nothing to
  // round: the instance's only other difference, rounding f32 x to bf16, does not arise).
  const bool bf16 = mode == GemmMode::Bf16 || (w_bf16_exact && a.x.bf16);
  const GemmMode staged = bf16 ? GemmMode::Bf16 : mode;
  const Plan p = plan(a.n, a.experts, a.hidden, device_limits(), act_in_gemm_for(a.epi), vec_ok(a, staged), bf16,
                      bf16 && w_async_ok(a), a.x.bf16, x_async_ok(a));
  if (a.x.bf16) {
    if (bf16) launch_tile<uint16_t, true>(a, p, stream); else launch_tile<uint16_t, false>(a, p, stream);
  } else {
    if (bf16) launch_tile<float, true>(a, p, stream); else launch_tile<float, false>(a, p, stream);
  }
}

// ---- hooks (decode_route_testing.hpp) ------------------------------------------------------------

bool decode_route_supports_hook(GemmMode mode, int64_t n, int64_t experts, int64_t hidden) {
  return decode_route_supports(mode, n, experts, hidden);
}

void decode_route_hook(const DecodeTestCall& c) {
  FusedRouteArgs a{};
  a.x = XView{c.x, c.x_bf16, c.ld};
  a.n = c.n;
  a.experts = c.experts;
  a.hidden = c.hidden;
  a.w_f32 = c.w_f32;
  a.w_bf16 = c.w_bf16;
  a.epi.logits = c.logits_ws;
  a.epi.n = c.n;
  a.epi.params = c.params;
  a.epi.weights_out = c.weights_out;
  a.epi.ids_out = c.ids_out;
  a.epi.logits_out = c.logits_out;
  a.epi.counts = c.counts;
  a.epi.counts_i64 = c.counts_i64;
  a.epi.token_ids = c.token_ids;
  a.epi.token_ids_i64 = c.token_ids_i64;
  a.epi.hash_table = c.hash_table;
  a.epi.hash_table_i64 = c.hash_table_i64;
  a.epi.nonfinite = c.nonfinite;
  a.epi.screen = activation_screen_on();  // the library's defaults, so the tests run what routers run
  a.epi.group_registers = group_registers_on();
  a.grid_counter = c.grid_counter;
  decode_route(c.mode, a, static_cast<cudaStream_t>(c.stream), c.w_bf16_exact);
}

void set_decode_tiling(const DecodeTiling& t) {
  g_rows_override.store(t.rows_per_block);
  g_experts_override.store(t.experts_per_block);
  g_budget_override.store(t.smem_budget);
}

void set_decode_trace(unsigned long long* device_buffer) { g_trace.store(device_buffer); }

void decode_grid(int64_t n, int64_t experts, int64_t hidden, int* gx, int* gy) {
  const Plan p = plan(n, experts, hidden, device_limits(), true, hidden % 4 == 0, false, false, false, false);
  *gx = p.gx;
  *gy = p.gy;
}

std::string decode_plan_string(GemmMode mode, int64_t n, int64_t experts, int64_t hidden) {
  const bool bf16 = mode == GemmMode::Bf16;
  const Plan p = plan(n, experts, hidden, device_limits(), true, hidden % 4 == 0, bf16, bf16 && hidden % 8 == 0, true,
                      hidden % 8 == 0);
  char buf[240];
  std::snprintf(buf, sizeof buf, "grid %dx%d, %d rows x %d experts per block, %d chunks per slice, "
                "tile %dx%d, %zu B shared, carveout %d%%", p.gx, p.gy, p.g.rb, p.g.eb, p.g.s, p.R, p.XT,
                p.smem, p.carveout);
  return buf;
}

}  // namespace moerouter::cuda::detail
