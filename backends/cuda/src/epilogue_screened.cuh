// The screened register path of the warp epilogue (activation_screen.cuh says why): the exact
// activation only for the experts that can still reach the top k; and the row loop of the standalone
// kernel that uses it. Only that kernel (epilogue_kernels.cu, route_rows_fresh_kernel) and the
// emulated-warp test include this file, so editing it rebuilds neither the fused nor the decode
// routers (their compile takes most of a build).
#pragma once
#include <cstdint>
#include <type_traits>

#include "activation_screen.cuh"
#include "epilogue_device.cuh"
#include "warp_candidates.cuh"

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

// Calls f(std::true_type{}) or f(std::false_type{}): a runtime flag as a template argument.
template <class F>
__device__ __forceinline__ void with_flag(bool flag, F&& f) {
  if (flag) f(std::true_type{});
  else f(std::false_type{});
}

// screen_lane's instance for the row's score function, bias presence and fill.
template <int J>
__device__ __forceinline__ void screen_lane_any(const epilogue::Params& p, const float (&l)[J], float (&s)[J],
                                                float& amax, float& smax, float& best) {
  const int E = static_cast<int>(p.experts);
  with_flag(E == 32 * J, [&](auto full) {
    with_flag(p.bias != nullptr, [&](auto has_bias) {
      constexpr bool kFull = decltype(full)::value, kBias = decltype(has_bias)::value;
      if (p.score == ScoreFn::Sigmoid)
        screen_lane<J, ScoreFn::Sigmoid, kBias, kFull>(l, p.bias, E, s, amax, smax, best);
      else
        screen_lane<J, ScoreFn::SqrtSoftplus, kBias, kFull>(l, p.bias, E, s, amax, smax, best);
    });
  });
}

// Group limits (groups of exactly 32 experts: group g is slot g of every lane, group_slots_apply)
// screened the same way, one level down. A group's score is the sum of its two best sel
// (select_groups, warp_group_slots). With t2 the second largest screened score of the group
// (counted with multiplicity), two of its experts have s' >= t2, hence s >= t2 - D, and an expert
// with s' < t2 - 2D has s < t2 - D: below two others, never one of the group's two best. So those
// two lie among the group's candidates (s' >= t2 - 2D), whose exact activations give the group's
// exact two best in the exact order (max key, then lowest expert) and so warp_group_slots' score,
// bit for bit; the kept groups follow as there (kept_group_slots). One compaction holds every
// group's candidates (typically two or three per group). Returns false (nothing written) when
// they do not fit in 32 (a group with many equal scores); `allowed` gets the kept groups.
// (Deciding the kept groups from screened group scores alone would need a gap of ~8D between the
// topk_groups-th and the next score; on rows of uniform logits that failed a third of the time:
// the best two sigmoids of 32 crowd near 1.)
template <int J>
__device__ __forceinline__ bool warp_screen_groups(const EpilogueArgs& a, const float (&l)[J], const float (&s)[J],
                                                   float D, ScreenScratch& scratch, uint32_t& allowed) {
  const int lane = threadIdx.x % 32;
  const epilogue::Params& p = a.params;
  const int G = p.groups;
  bool candidate[J];
#pragma unroll
  for (int j = 0; j < J; ++j) {
    candidate[j] = false;
    if (j < G) {  // warp-uniform; every lane holds an expert of every group (E = 32 G)
      const uint32_t key = rank_key(s[j]);
      const uint32_t k1 = __reduce_max_sync(kFullWarpMask, key);
      const bool twice = __popc(__ballot_sync(kFullWarpMask, key == k1)) >= 2;
      const uint32_t t2 = twice ? k1 : __reduce_max_sync(kFullWarpMask, key == k1 ? 0u : key);
      candidate[j] = s[j] >= key_value(t2) - (D + D);
    }
  }
  const CandidateSlots slots(scratch);
  const int count = warp_compact_candidates<J>(slots, candidate, l);
  if (count > 32) return false;  // warp-uniform
  float my_l = 0.0f;
  const int32_t my_e = take_candidate(slots, count, my_l);
  float sel = 0.0f;
  uint32_t key = 0u;  // 0: no candidate (exact keys of finite scores are > 0)
  if (my_e >= 0) {
    float act;
    epilogue::activate_row(&my_l, 1, p.score, &act);
    sel = p.bias ? act + p.bias[my_e] : act;
    key = rank_key(sel);
  }
  // The lowest expert among equal keys and the lane holding it in one reduction (experts < 2^26).
  const uint32_t tag = (static_cast<uint32_t>(my_e) << 5) | static_cast<uint32_t>(lane);
  float score[J];
#pragma unroll
  for (int j = 0; j < J; ++j) {
    score[j] = 0.0f;
    if (j < G) {
      const bool in = my_e >= 0 && my_e / 32 == j;
      const uint32_t k1 = __reduce_max_sync(kFullWarpMask, in ? key : 0u);
      const uint32_t w1 = __reduce_min_sync(kFullWarpMask, in && key == k1 ? tag : 0xFFFFFFFFu);
      const float v1 = __shfl_sync(kFullWarpMask, sel, static_cast<int>(w1 & 31u));
      const bool in2 = in && tag != w1;
      const uint32_t k2 = __reduce_max_sync(kFullWarpMask, in2 ? key : 0u);
      const uint32_t w2 = __reduce_min_sync(kFullWarpMask, in2 && key == k2 ? tag : 0xFFFFFFFFu);
      const float v2 = __shfl_sync(kFullWarpMask, sel, static_cast<int>(w2 & 31u));
      score[j] = v1 + v2;  // best first, as select_groups adds them
    }
  }
  allowed = kept_group_slots<J>(p, score);
  return true;
}

// Selection, weights, ids and counts of a row of finite sqrtsoftplus/sigmoid logits (l[j] of expert
// lane + 32 j; the caller has checked the whole row), exact activations for the candidates only.
// Group-limited rows only with groups of 32 experts (group_slots_apply). Returns false (nothing
// written) when the screen cannot decide; warp-uniform.
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
  const float D = 0x1p-11f * warp_max_nonnegative(amax) + 0x1p-20f * warp_max_nonnegative(smax) + 0x1p-100f;
  uint32_t allowed = 0xFFFFFFFFu;  // slot bits of the kept groups
  if (p.groups > 1) {
    if (!warp_screen_groups<J>(a, l, s, D, scratch, allowed)) return false;
    best = __uint_as_float(0xFF800000u);  // the lane's best among the kept groups
#pragma unroll
    for (int j = 0; j < J; ++j)
      if ((allowed >> j) & 1u) best = fmaxf(best, s[j]);
  }
  // t: the k-th largest lane best (warp_candidates.cuh); lanes with experts have keys > 0 (finite).
  uint32_t t = 0u;
  if (!warp_kth_lane_key(lane < E ? rank_key(best) : 0u, lane < E, k, t)) return false;
  const float thr = key_value(t) - (D + D);
  if (!fmath::is_finite(thr)) return false;
  bool candidate[J];
#pragma unroll
  for (int j = 0; j < J; ++j) candidate[j] = lane + 32 * j < E && ((allowed >> j) & 1u) && s[j] >= thr;
  const CandidateSlots slots(scratch);
  const int count = warp_compact_candidates<J>(slots, candidate, l);
  if (count > 32) return false;  // crowded near the k-th place (warp-uniform: count is)
  float my_l = 0.0f;
  const int32_t my_e = take_candidate(slots, count, my_l);
  // Exact activations of the candidates, then k rounds of the exact order among them.
  float act = 0.0f;
  uint32_t key = 0u;
  if (my_e >= 0) {
    epilogue::activate_row(&my_l, 1, p.score, &act);
    key = rank_key(p.bias ? act + p.bias[my_e] : act);
  }
  warp_rank_candidates(a, row, my_e, key, act);
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
  const bool screenable = p.groups == 1 || (a.group_registers && group_slots_apply(p));
  if (a.screen && screenable && finite && warp_route_row_screened<J>(a, row, l, scratch)) return;
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
