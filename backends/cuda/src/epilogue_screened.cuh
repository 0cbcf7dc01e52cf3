// The screened register path of the warp epilogue (activation_screen.cuh says why): the exact
// activation only for the experts that can still reach the top k; and the row loop of the standalone
// kernel that uses it. Only that kernel (epilogue_kernels.cu, route_rows_fresh_kernel) and the
// emulated-warp test include this file, so editing it rebuilds neither the fused nor the decode
// routers (their compile takes most of a build).
#pragma once
#include <cstdint>

#include "activation_screen.cuh"
#include "epilogue_device.cuh"

namespace moerouter::cuda::detail {

// activation_screen.cuh says why; this is the selection half. With a' the screened activation, s' =
// fl(a' + b) the screened score and s = fl(a + b) the exact one (a = the contract's activation):
//  * |a - a'| <= 2^-13 |a'| + 2^-125 (checked on all 2^32 logits by the [screen] test), and fl
//    rounds monotonically within 2^-24 relative, so |s - s'| <= 2^-13 A (1 + 2^-24) + 2^-23.01 S +
//    2^-125 over a row, A = max |a'|, S = max |s'|. D = 2^-11 A + 2^-20 S + 2^-100 bounds it with
//    room for the roundings of D and thr below.
//  * t = the k-th largest of the lanes' best screened keys (counted with multiplicity) is at most
//    the row's k-th largest s', so k experts have s' >= t, hence s >= t - D.
//  * an expert with s' < thr = t - 2D has s < t - D: strictly below those k, never selected.
// So the exact top k lies among the candidates (s' >= thr), which get the exact activation and the
// exact selection (rank_key order, lowest expert among equal keys): select_topk's ids and
// gather_weights' sums, bit for bit. Rows where the screen cannot decide cheaply (a non-finite
// logit, a screened score that overflowed, more than 32 candidates: ties, crowded scores) take the
// exact path.

// Per-warp shared scratch of the screened path: the compacted candidates (at most 32 per row).
struct ScreenScratch {
  float2 candidate[32];  // (logit, expert id as float bits): one 64-bit store per candidate
};

// The scratch's candidate slots addressed by a 32-bit shared-window address taken once. Through the
// generic reference, ptxas re-derived the shared address (S2R SR_CgaCtaId, MOV, LEA) before every
// predicated store of the compaction: three extra instructions per slot and row (ncu per-SASS
// profile, H100, 2026-12-07). On the host (the emulated-warp test) it is a plain pointer.
class CandidateSlots {
 public:
  __device__ __forceinline__ explicit CandidateSlots(ScreenScratch& scratch) {
#if defined(__CUDA_ARCH__)
    base_ = static_cast<uint32_t>(__cvta_generic_to_shared(scratch.candidate));
#else
    base_ = scratch.candidate;
#endif
  }
  __device__ __forceinline__ void store(int place, float2 v) const {
#if defined(__CUDA_ARCH__)
    asm volatile("st.shared.v2.f32 [%0], {%1, %2};" ::"r"(base_ + 8u * static_cast<uint32_t>(place)), "f"(v.x),
                 "f"(v.y)
                 : "memory");
#else
    base_[place] = v;
#endif
  }
  __device__ __forceinline__ float2 load(int place) const {
#if defined(__CUDA_ARCH__)
    float2 v;
    asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];"
                 : "=f"(v.x), "=f"(v.y)
                 : "r"(base_ + 8u * static_cast<uint32_t>(place))
                 : "memory");
    return v;
#else
    return base_[place];
#endif
  }

 private:
#if defined(__CUDA_ARCH__)
  uint32_t base_;
#else
  float2* base_;
#endif
};

// rank_key's inverse for the keys of numbers (key > 0).
__device__ __forceinline__ float key_value(uint32_t key) {
  return __uint_as_float((key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key);
}

// Warp maximum of a non-negative float (its bits order like unsigned integers).
__device__ __forceinline__ float warp_max_nonnegative(float v) {
  return __uint_as_float(__reduce_max_sync(kFullWarpMask, __float_as_uint(v)));
}

// Screened scores s[j] = a'(l[j]) + b of this lane's experts (0 past E), with the lane's maxima of
// |a'|, |s'| and s'. One instance per score function and bias presence, so the per-element code
// branches on neither.
template <int J, ScoreFn Score, bool HasBias, bool Full>
__device__ __forceinline__ void screen_lane(const float (&l)[J], const float* bias, int E, float (&s)[J], float& amax,
                                            float& smax, float& best) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int j = 0; j < J; ++j) {
    const int e = lane + 32 * j;
    s[j] = 0.0f;
    if (Full || e < E) {  // Full: E = 32 J, every slot holds an expert (no guard, no branch)
      const float ap = screen_activation(l[j], Score);
      const float sp = HasBias ? ap + bias[e] : ap;
      s[j] = sp;
      amax = fmaxf(amax, fabsf(ap));
      smax = fmaxf(smax, fabsf(sp));
      best = fmaxf(best, sp);  // one rank_key per lane below, not one per expert
    }
  }
}

// screen_lane's instance for the row's score function, bias presence and fill.
template <int J>
__device__ __forceinline__ void screen_lane_any(const epilogue::Params& p, const float (&l)[J], float (&s)[J],
                                                float& amax, float& smax, float& best) {
  const int E = static_cast<int>(p.experts);
  const bool full = E == 32 * J;
  const bool sigmoid = p.score == ScoreFn::Sigmoid;
  if (full) {
    if (sigmoid) {
      if (p.bias) screen_lane<J, ScoreFn::Sigmoid, true, true>(l, p.bias, E, s, amax, smax, best);
      else screen_lane<J, ScoreFn::Sigmoid, false, true>(l, p.bias, E, s, amax, smax, best);
    } else {
      if (p.bias) screen_lane<J, ScoreFn::SqrtSoftplus, true, true>(l, p.bias, E, s, amax, smax, best);
      else screen_lane<J, ScoreFn::SqrtSoftplus, false, true>(l, p.bias, E, s, amax, smax, best);
    }
  } else {
    if (sigmoid) {
      if (p.bias) screen_lane<J, ScoreFn::Sigmoid, true, false>(l, p.bias, E, s, amax, smax, best);
      else screen_lane<J, ScoreFn::Sigmoid, false, false>(l, p.bias, E, s, amax, smax, best);
    } else {
      if (p.bias) screen_lane<J, ScoreFn::SqrtSoftplus, true, false>(l, p.bias, E, s, amax, smax, best);
      else screen_lane<J, ScoreFn::SqrtSoftplus, false, false>(l, p.bias, E, s, amax, smax, best);
    }
  }
}

// Selection, weights, ids and counts of a row of finite sqrtsoftplus/sigmoid logits (l[j] of expert
// lane + 32 j; the caller has checked the whole row), exact activations for the candidates only.
// Returns false (nothing written) when the screen cannot decide; warp-uniform.
template <int J>
__device__ __forceinline__ bool warp_route_row_screened(const EpilogueArgs& a, int64_t row, const float (&l)[J],
                                                        ScreenScratch& scratch) {
  const int lane = threadIdx.x % 32;
  const epilogue::Params& p = a.params;
  const int E = static_cast<int>(p.experts);  // <= kMaxExperts
  const int k = p.top_k;
  float s[J];
  float amax = 0.0f, smax = 0.0f, best = __uint_as_float(0xFF800000u);  // -inf
  screen_lane_any<J>(p, l, s, amax, smax, best);
  // Finite logits give finite a' (and no NaN), so s' = a' + b is finite unless it overflowed, which
  // its magnitude's maximum shows (fmaxf passes over NaN, but there is none to pass over).
  if (!__all_sync(kFullWarpMask, smax <= 0x1.fffffep127f)) return false;
  const uint32_t lane_best = lane < E ? rank_key(best) : 0u;
  // t: the k-th largest lane best, with multiplicity (each round removes the lanes holding the top).
  bool alive = lane < E;  // lanes with at least one expert; their keys are > 0 (finite scores)
  int removed = 0;
  uint32_t t = 0u;
  while (true) {
    const uint32_t top = __reduce_max_sync(kFullWarpMask, alive ? lane_best : 0u);
    const uint32_t holders = __ballot_sync(kFullWarpMask, alive && lane_best == top);
    if (top == 0u || holders == 0u) return false;  // fewer than k lanes (cannot happen: k <= min(E, 32))
    removed += __popc(holders);
    if (removed >= k) {
      t = top;
      break;
    }
    if (alive && lane_best == top) alive = false;
  }
  const float D = 0x1p-11f * warp_max_nonnegative(amax) + 0x1p-20f * warp_max_nonnegative(smax) + 0x1p-100f;
  const float thr = key_value(t) - (D + D);
  if (!fmath::is_finite(thr)) return false;
  // Candidates, compacted through shared memory in (j, lane) order: one ballot per slot gives each
  // candidate its place (the candidates before it), and lane i then reads place i. Cheaper than
  // pulling the i-th set bit of every ballot into lane i with shuffles.
  const uint32_t lanes_below = (1u << lane) - 1u;
  const CandidateSlots slots(scratch);
  int base = 0;
#pragma unroll
  for (int j = 0; j < J; ++j) {
    const int e = lane + 32 * j;
    const bool candidate = e < E && s[j] >= thr;
    const uint32_t m = __ballot_sync(kFullWarpMask, candidate);
    const int place = base + __popc(m & lanes_below);
    if (candidate && place < 32) slots.store(place, make_float2(l[j], __uint_as_float(static_cast<uint32_t>(e))));
    base += __popc(m);
  }
  if (base > 32) return false;  // crowded near the k-th place (warp-uniform: base is)
  __syncwarp();
  const bool has = lane < base;
  const float2 mine = has ? slots.load(lane) : make_float2(0.0f, 0.0f);
  const float my_l = mine.x;
  const int32_t my_e = has ? static_cast<int32_t>(__float_as_uint(mine.y)) : -1;
  __syncwarp();  // every lane has read its place before the next row writes the scratch
  // Exact activations of the candidates, then k rounds of the exact order among them.
  float act = 0.0f;
  uint32_t key = 0u;
  bool open = my_e >= 0;
  if (open) {
    epilogue::activate_row(&my_l, 1, p.score, &act);
    key = rank_key(p.bias ? act + p.bias[my_e] : act);
  }
  float sum = 0.0f, my_act = 0.0f;
  int32_t my_id = 0;
  // The lowest expert among the holders of the top key and the lane holding it, in one reduction:
  // experts are distinct and < 2^26, so (expert << 5 | lane) orders like the expert.
  const uint32_t tag = (static_cast<uint32_t>(my_e) << 5) | static_cast<uint32_t>(lane);
  for (int r = 0; r < k; ++r) {
    const uint32_t top_key = __reduce_max_sync(kFullWarpMask, open ? key : 0u);
    const uint32_t won = __reduce_min_sync(kFullWarpMask, open && key == top_key ? tag : 0xFFFFFFFFu);
    const uint32_t id = won >> 5;
    const int owner = static_cast<int>(won & 31u);
    const float v = __shfl_sync(kFullWarpMask, act, owner);
    if (lane == owner) open = false;
    sum = sum + v;  // rank order, as gather_weights
    if (lane == r) {
      my_id = static_cast<int32_t>(id);
      my_act = v;
    }
  }
  warp_write_ranked(a, row, my_id, my_act, sum);
  return true;
}

// ---- several rows per warp, the next row's logits loaded while this one is routed --------------
// With one row per warp, each warp first waited a DRAM round trip for its 12 loads with nothing
// else to do, then ran a long chain of dependent warp collectives; the standalone kernel now keeps
// its warps resident (a grid of the resident block count) and loads row r + stride before routing
// row r, so the loads are in flight during the previous row's work.

template <int J>
__device__ __forceinline__ void warp_load_row(const EpilogueArgs& a, int64_t row, float (&l)[J]) {
  warp_load_logits<J>(a.logits + row * a.params.experts, a.params.experts, l);
}

// Everything the epilogue does for a row of sqrtsoftplus/sigmoid logits held in registers (l[j] of
// expert lane + 32 j, 0 past E): logits_out copy, non-finite count, the screened path where it
// decides, else the exact activations and warp_select_registers (group slots included).
template <int J>
__device__ __forceinline__ void warp_route_loaded_row(const EpilogueArgs& a, int64_t row, const float (&l)[J],
                                                      ScreenScratch& scratch) {
  const epilogue::Params& p = a.params;
  const bool finite = warp_note_logits<J>(a, row, l);
  if (a.screen && p.groups == 1 && finite && warp_route_row_screened<J>(a, row, l, scratch)) return;
  float act[J];
#pragma unroll
  for (int j = 0; j < J; ++j) epilogue::activate_row(&l[j], 1, p.score, &act[j]);
  warp_select_registers<J, true>(a, row, act);
}

// Rows first, first + stride, ... < a.n of sqrtsoftplus/sigmoid logits (softmax needs the whole
// row in lane 0: warp_route_row_registers); all 32 lanes call with the same arguments.
template <int J>
__device__ __forceinline__ void warp_route_rows_prefetched(const EpilogueArgs& a, int64_t first, int64_t stride,
                                                           ScreenScratch& scratch) {
  if (first >= a.n) return;
  float next[J];
  warp_load_row<J>(a, first, next);
  for (int64_t row = first; row < a.n; row += stride) {
    float l[J];
#pragma unroll
    for (int j = 0; j < J; ++j) l[j] = next[j];
    if (row + stride < a.n) warp_load_row<J>(a, row + stride, next);
    warp_route_loaded_row<J>(a, row, l, scratch);
  }
}

}  // namespace moerouter::cuda::detail
