// The epilogue of one row as a device function for one warp, so that kernels holding a row's
// logits (in shared memory or global memory) can finish the row themselves: the fused routers
// (decode_route.cu, bf16_fused.cu) call it, and the default epilogue (epilogue_kernels.cu) is the
// same code. It calls core's __host__ __device__ epilogue functions, so it writes the CPU's bits.
//
// Selection: select_topk's result is the k best experts under a total order (ranks_above: value,
// then index), so it is unique, and any way of finding it gives the same ids in the same order.
// Two ways are used. The register path (no hash table; no group limit, or — standalone epilogue
// kernel, EpilogueArgs::group_registers — groups of exactly 32 experts; below) keeps each lane's
// experts in registers and pops the best key of the warp k times.
// The list path (other group-limited configs, hash routing): each lane keeps its own best k of the
// experts e = lane (mod 32) with insert_ranked, then k rounds of a warp-wide ranks_above maximum
// pop the winners; groups are scored exactly as
// select_groups does (insert_ranked of the group's sel, sum of the best two) and merged the same
// way. gather_weights runs on lane 0 there.
#pragma once
#include <cstdint>

#include "kernels.hpp"
#include "moerouter/config.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/fmath.hpp"

namespace moerouter::cuda::detail {

inline constexpr unsigned kFullWarpMask = 0xFFFFFFFFu;

// Per-warp shared scratch of warp_route_row (group flags of group-limited selection).
struct WarpRowScratch {
  bool allowed_groups[kMaxExperts];
};

__device__ __forceinline__ int64_t epilogue_read_index(const void* p, bool i64, int64_t i) {
  return i64 ? static_cast<const int64_t*>(p)[i] : static_cast<const int32_t*>(p)[i];
}

// ids, weights and counts of one row (called by one thread).
__device__ __forceinline__ void epilogue_write_row(const EpilogueArgs& a, int64_t row, const int32_t* ids,
                                                   const float* weights) {
  const int k = a.params.top_k;
  for (int j = 0; j < k; ++j) {
    a.ids_out[row * k + j] = ids[j];
    a.weights_out[row * k + j] = weights[j];
  }
  if (a.counts) {  // integer counts: the order of the atomic adds cannot change the result
    for (int j = 0; j < k; ++j) {
      if (a.counts_i64)
        atomicAdd(static_cast<unsigned long long*>(a.counts) + ids[j], 1ull);
      else
        atomicAdd(static_cast<int*>(a.counts) + ids[j], 1);
    }
  }
}

__device__ __forceinline__ void epilogue_hash_ids(const EpilogueArgs& a, int64_t row, int32_t* ids) {
  const int k = a.params.top_k;
  const int64_t token = epilogue_read_index(a.token_ids, a.token_ids_i64, row);
  for (int j = 0; j < k; ++j)
    ids[j] = static_cast<int32_t>(epilogue_read_index(a.hash_table, a.hash_table_i64, token * k + j));
}

// The best (value, id) under ranks_above among the lanes that have one; every lane gets it
// (a strict total order has one maximum, so the butterfly converges to it in all lanes).
__device__ __forceinline__ void warp_best(float& v, int32_t& id, bool& has) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const float ov = __shfl_xor_sync(kFullWarpMask, v, offset);
    const int32_t oid = __shfl_xor_sync(kFullWarpMask, id, offset);
    const bool oh = __shfl_xor_sync(kFullWarpMask, static_cast<int>(has), offset) != 0;
    if (oh && (!has || epilogue::ranks_above(ov, oid, v, id))) {
      v = ov;
      id = oid;
      has = true;
    }
  }
}

// Merges the lanes' ranked lists (vals/ids, `count` entries each, ids distinct across lanes) into
// the warp's best `cap` in rank order, written to out_ids in every lane. Returns how many.
__device__ __forceinline__ int warp_merge(const float* vals, const int32_t* ids, int count, int cap,
                                          int32_t* out_ids) {
  int head = 0;
  for (int r = 0; r < cap; ++r) {
    bool has = head < count;
    float v = has ? vals[head] : 0.0f;
    int32_t id = has ? ids[head] : 0;
    warp_best(v, id, has);
    if (!has) return r;  // the same in every lane
    if (head < count && ids[head] == id) ++head;  // the winning lane pops its head
    out_ids[r] = id;
  }
  return cap;
}

// Counts a row with a non-finite logit (EpilogueArgs::nonfinite). `finite` is this lane's verdict
// on its own elements; all 32 lanes call. Returns the row's verdict (every logit finite), the same
// in every lane, so callers need no second vote.
__device__ __forceinline__ bool warp_count_nonfinite(const EpilogueArgs& a, int64_t row, bool finite) {
  const bool row_bad = __any_sync(kFullWarpMask, !finite);
  if (row_bad && a.nonfinite && (threadIdx.x % 32) == 0) {
    atomicAdd(a.nonfinite, 1ull);
    atomicMax(a.nonfinite + 1, ~static_cast<unsigned long long>(row));
  }
  return !row_bad;
}

// A row of logits into registers: l[j] = L[lane + 32 j], 0 past E.
template <int J>
__device__ __forceinline__ void warp_load_logits(const float* L, int64_t E, float (&l)[J]) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int j = 0; j < J; ++j) {
    const int64_t e = lane + 32 * j;
    l[j] = e < E ? L[e] : 0.0f;
  }
}

// Whether this lane's values of a row (l[j] of expert lane + 32 j, those below E) are all finite.
// Finite iff no exponent field is all ones, so one max over the exponent bits replaces a test per
// element.
template <int J>
__device__ __forceinline__ bool lane_values_finite(int64_t E, const float (&l)[J]) {
  const int lane = threadIdx.x % 32;
  uint32_t exponents = 0u;
#pragma unroll
  for (int j = 0; j < J; ++j)
    if (lane + 32 * j < E) exponents = max(exponents, __float_as_uint(l[j]) & 0x7F800000u);
  return exponents != 0x7F800000u;
}

// What every route of a row held in registers (warp_load_logits) does first: the logits_out copy
// (canonical NaN) and the non-finite count. Returns the row's verdict: every logit finite.
template <int J>
__device__ __forceinline__ bool warp_note_logits(const EpilogueArgs& a, int64_t row, const float (&l)[J]) {
  const int lane = threadIdx.x % 32;
  const int64_t E = a.params.experts;
  const bool finite = lane_values_finite<J>(E, l);
  if (a.logits_out) {
    float* out = a.logits_out + row * E;
#pragma unroll
    for (int j = 0; j < J; ++j)
      if (lane + 32 * j < E) out[lane + 32 * j] = fmath::canonicalize(l[j]);
  }
  return warp_count_nonfinite(a, row, finite);
}

// Activation in place of one row by one warp: logits_out copy (canonical NaN), non-finite count,
// then activate_row per element (sqrtsoftplus, sigmoid) or, for softmax whose max and compensated
// sum are sequential, activate_row on the whole row in lane 0. Ends with the row visible to all lanes.
__device__ __forceinline__ void warp_activate_row(const EpilogueArgs& a, int64_t row, float* L) {
  const int lane = threadIdx.x % 32;
  const int64_t E = a.params.experts;
  bool finite = true;
  for (int64_t e = lane; e < E; e += 32) {
    const float l = L[e];
    finite = finite && fmath::is_finite(l);
    if (a.logits_out) a.logits_out[row * E + e] = fmath::canonicalize(l);
    if (a.params.score != ScoreFn::Softmax) epilogue::activate_row(L + e, 1, a.params.score, L + e);
  }
  warp_count_nonfinite(a, row, finite);
  if (a.params.score == ScoreFn::Softmax) {
    __syncwarp();
    if (lane == 0) epilogue::activate_row(L, E, a.params.score, L);
  }
  __syncwarp();
}

// Selection, weights and outputs of one row whose activations are in `act`, with per-lane ranked
// lists merged over the warp: the path for hash routing and group-limited configs (warp_select_row
// below picks it); all 32 lanes call.
__device__ __forceinline__ void warp_select_row_lists(const EpilogueArgs& a, int64_t row, const float* act,
                                                      WarpRowScratch& scratch) {
  const int lane = threadIdx.x % 32;
  const epilogue::Params& p = a.params;
  const int64_t E = p.experts;
  const int k = p.top_k;
  int32_t ids[kMaxTopK];
  if (a.token_ids) {
    if (lane == 0) epilogue_hash_ids(a, row, ids);
  } else {
    bool* allowed = scratch.allowed_groups;
    const int64_t per_group = E / p.groups;
    if (p.groups > 1) {  // select_groups, its groups spread over the lanes
      float gv[kMaxTopK];
      int32_t gi[kMaxTopK];
      int gc = 0;
      for (int g = lane; g < p.groups; g += 32) {
        float top_vals[2];
        int32_t top_ids[2];
        int top_count = 0;
        for (int64_t j = 0; j < per_group; ++j) {
          const int64_t e = g * per_group + j;
          epilogue::insert_ranked(epilogue::selection_score(act, p.bias, e), static_cast<int32_t>(e),
                                  top_vals, top_ids, &top_count, 2);
        }
        const float score = top_count == 2 ? top_vals[0] + top_vals[1] : top_vals[0];
        allowed[g] = false;
        epilogue::insert_ranked(score, g, gv, gi, &gc, p.topk_groups);
      }
      int32_t kept[kMaxTopK];
      const int kept_count = warp_merge(gv, gi, gc, p.topk_groups, kept);
      __syncwarp();  // every lane's allowed[g] = false is in place
      if (lane == 0)
        for (int i = 0; i < kept_count; ++i) allowed[kept[i]] = true;
      __syncwarp();
    }
    float lv[kMaxTopK];
    int32_t li[kMaxTopK];
    int lc = 0;
    for (int64_t e = lane; e < E; e += 32)
      if (p.groups == 1 || allowed[e / per_group])
        epilogue::insert_ranked(epilogue::selection_score(act, p.bias, e), static_cast<int32_t>(e), lv,
                                li, &lc, k);
    warp_merge(lv, li, lc, k, ids);
  }
  if (lane == 0) {
    float weights[kMaxTopK];
    epilogue::gather_weights(act, ids, p, weights);
    epilogue_write_row(a, row, ids, weights);
  }
  __syncwarp();
}

// ---- the register path: no group limit, no hash table ---------------------------------------------
// Each lane keeps its experts e = lane + 32 j (j < J) in registers: activation, and the selection
// score as a 32-bit key ordered like ranks_above, packed with ~e into one 64-bit candidate word (0
// once taken or never selectable), so that the largest word is the best key and, among equal keys,
// the lowest expert. Each of the k rounds takes every lane's largest word (a balanced max tree:
// log2 J dependent steps, not J), then the warp's maximum key and, among the lanes holding it, the
// lowest expert (two redux.sync). The result is select_topk's unique top k in rank order; the
// renormalizing sum is accumulated in the same rank order as gather_weights, and lane r writes rank
// r. Same bits, no local memory, no list merges.

// ranks_above as an unsigned order: NaN lowest (0), -0 equal to +0, otherwise the float order.
__device__ __forceinline__ uint32_t rank_key(float v) {
  if (fmath::is_nan(v)) return 0u;
  const uint32_t u = __float_as_uint(v == 0.0f ? 0.0f : v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Outputs of a row selected in rank order: lane r < k holds rank r (id, unbiased activation), `sum`
// is the activations' sum in rank order (gather_weights' order), the same in every lane.
__device__ __forceinline__ void warp_write_ranked(const EpilogueArgs& a, int64_t row, int32_t my_id,
                                                  float my_act, float sum) {
  const int lane = threadIdx.x % 32;
  const epilogue::Params& p = a.params;
  if (lane < p.top_k) {
    const float w = p.renormalize ? fmath::canonicalize((my_act / (sum + kRenormEpsilon)) * p.scale)
                                  : fmath::canonicalize(my_act * p.scale);
    a.ids_out[row * p.top_k + lane] = my_id;
    a.weights_out[row * p.top_k + lane] = w;
    if (a.counts) {
      if (a.counts_i64)
        atomicAdd(static_cast<unsigned long long*>(a.counts) + my_id, 1ull);
      else
        atomicAdd(static_cast<int*>(a.counts) + my_id, 1);
    }
  }
  __syncwarp();
}

// The groups select_groups keeps, as slot bits, from the G <= J group scores (warp-uniform): group g
// is kept when fewer than topk_groups groups rank above it (ranks_above on (score, g)).
template <int J>
__device__ __forceinline__ uint32_t kept_group_slots(const epilogue::Params& p, const float (&score)[J]) {
  const int G = p.groups;
  uint32_t allowed = 0;
#pragma unroll
  for (int g = 0; g < J; ++g) {
    if (g >= G) continue;
    int above = 0;
#pragma unroll
    for (int h = 0; h < J; ++h)
      if (h < G && h != g && epilogue::ranks_above(score[h], h, score[g], g)) ++above;
    if (above < p.topk_groups) allowed |= 1u << g;
  }
  return allowed;
}

// Group-limited selection in registers when every group is one slot (E / G = 32: group g = experts
// 32 g .. 32 g + 31 = slot g of every lane; DeepSeek-V3/R1's 256 experts in 8 groups). A group's
// score is the sum of its two best sel under the total order (two rounds of max key, then lowest
// expert among its holders — select_groups' insert_ranked result, added best first); group g is
// kept when fewer than topk_groups groups rank above it (ranks_above on (score, g)): the
// topk_groups best, as select_groups keeps them. Returns the kept slots as a bit mask.
template <int J>
__device__ __forceinline__ uint32_t warp_group_slots(const epilogue::Params& p, const uint32_t (&key)[J],
                                                     const float (&sel)[J]) {
  const uint32_t lane = threadIdx.x % 32;
  const int G = p.groups;
  float score[J];
#pragma unroll
  for (int j = 0; j < J; ++j) {
    score[j] = 0.0f;
    if (j < G) {  // warp-uniform
      const uint32_t e = lane + 32 * j;
      const uint32_t k1 = __reduce_max_sync(kFullWarpMask, key[j]);
      const uint32_t id1 = __reduce_min_sync(kFullWarpMask, key[j] == k1 ? e : 0xFFFFFFFFu);
      const float v1 = __shfl_sync(kFullWarpMask, sel[j], static_cast<int>(id1 % 32));
      const uint32_t k2 = __reduce_max_sync(kFullWarpMask, e != id1 ? key[j] : 0u);
      const uint32_t id2 = __reduce_min_sync(kFullWarpMask, e != id1 && key[j] == k2 ? e : 0xFFFFFFFFu);
      const float v2 = __shfl_sync(kFullWarpMask, sel[j], static_cast<int>(id2 % 32));
      score[j] = v1 + v2;
    }
  }
  return kept_group_slots<J>(p, score);
}

__host__ __device__ __forceinline__ bool group_slots_apply(const epilogue::Params& p) {
  return p.groups > 1 && p.experts / p.groups == 32;
}

// The largest of J words, as a balanced tree (log2 J dependent steps).
template <int J>
__device__ __forceinline__ uint64_t max_tree(const uint64_t (&c)[J]) {
  uint64_t v[J];
#pragma unroll
  for (int j = 0; j < J; ++j) v[j] = c[j];
#pragma unroll
  for (int step = 1; step < J; step *= 2)
#pragma unroll
    for (int i = 0; i + step < J; i += 2 * step) v[i] = v[i] > v[i + step] ? v[i] : v[i + step];
  return v[0];
}

// a[slot] for a slot known only at run time (0 <= slot < J), without local memory: a select tree on
// the slot's bits (log2 J dependent steps). Nodes off slot's path may hold any value.
template <int J>
__device__ __forceinline__ float select_slot(const float (&a)[J], int slot) {
  float v[J];
#pragma unroll
  for (int j = 0; j < J; ++j) v[j] = a[j];
#pragma unroll
  for (int step = 1; step < J; step *= 2)
#pragma unroll
    for (int i = 0; i + step < J; i += 2 * step) v[i] = (slot & step) ? v[i + step] : v[i];
  return v[0];
}

// Selection, weights, ids and counts from the activations this lane holds (act[j] of expert
// lane + 32 j; anything for experts >= E).
template <int J, bool Fresh = false>
__device__ __forceinline__ void warp_select_registers(const EpilogueArgs& a, int64_t row, const float (&act)[J]) {
  const int lane = threadIdx.x % 32;
  const epilogue::Params& p = a.params;
  const int64_t E = p.experts;
  uint32_t key[J];
  float sel[J];
#pragma unroll
  for (int j = 0; j < J; ++j) {
    const int64_t e = lane + 32 * j;
    sel[j] = e < E ? (p.bias ? act[j] + p.bias[e] : act[j]) : 0.0f;
    key[j] = e < E ? rank_key(sel[j]) : 0u;
  }
  uint32_t allowed = 0xFFFFFFFFu;  // bit j: slot j may be selected
  if constexpr (Fresh) {            // only the standalone epilogue kernel instantiates groups
    if (p.groups > 1) allowed = warp_group_slots<J>(p, key, sel);
  }
  // Candidate words (see above); 0: past E, or in a group that is not kept.
  uint64_t cand[J];
#pragma unroll
  for (int j = 0; j < J; ++j) {
    const uint32_t e = static_cast<uint32_t>(lane + 32 * j);
    cand[j] = e < E && ((allowed >> j) & 1u) ? (static_cast<uint64_t>(key[j]) << 32) | ~e : 0ull;
  }
  float sum = 0.0f, my_act = 0.0f;
  int32_t my_id = 0;
  for (int r = 0; r < p.top_k; ++r) {
    const uint64_t best = max_tree<J>(cand);
    const uint32_t best_key = static_cast<uint32_t>(best >> 32);
    const uint32_t top_key = __reduce_max_sync(kFullWarpMask, best_key);
    // Lanes whose best is not the top key (or that have none: word 0) offer 0, below every ~e.
    const uint32_t low = __reduce_max_sync(kFullWarpMask, best_key == top_key ? static_cast<uint32_t>(best) : 0u);
    const uint32_t id = ~low;
    const int owner = static_cast<int>(id % 32);
    const float v = __shfl_sync(kFullWarpMask, select_slot<J>(act, static_cast<int>(id / 32)), owner);
    // The winner's word is unique (it holds the expert): it closes in its lane only.
#pragma unroll
    for (int j = 0; j < J; ++j)
      if (static_cast<uint32_t>(cand[j]) == low) cand[j] = 0ull;
    sum = sum + v;  // rank order, as gather_weights
    if (lane == r) {
      my_id = static_cast<int32_t>(id);
      my_act = v;
    }
  }
  warp_write_ranked(a, row, my_id, my_act, sum);
}

// `activated`: L holds the activations already (select only). Otherwise L holds the logits:
// logits_out copy, non-finite count and activation first (softmax in lane 0, sequential).
// Fresh: group slots (EpilogueArgs::group_registers) for group-limited rows. Instantiated by the
// standalone epilogue kernel and by the decode router's tail, which is compiled once (noinline) for
// all its kernel instances; inlined into each instance it would add minutes of compile time. The
// standalone kernel's screened path is epilogue_screened.cuh.
template <int J, bool Fresh = false>
__device__ __forceinline__ void warp_route_row_registers(const EpilogueArgs& a, int64_t row, float* L,
                                                         bool activated) {
  const int lane = threadIdx.x % 32;
  const epilogue::Params& p = a.params;
  const int64_t E = p.experts;
  float act[J];
  if (activated || p.score == ScoreFn::Softmax) {
    if (!activated) warp_activate_row(a, row, L);
#pragma unroll
    for (int j = 0; j < J; ++j) {
      const int64_t e = lane + 32 * j;
      act[j] = e < E ? L[e] : 0.0f;
    }
  } else {
    float l[J];
    warp_load_logits<J>(L, E, l);
    warp_note_logits<J>(a, row, l);
#pragma unroll
    for (int j = 0; j < J; ++j) epilogue::activate_row(&l[j], 1, p.score, &act[j]);
  }
  warp_select_registers<J, Fresh>(a, row, act);
}

__host__ __device__ __forceinline__ bool register_path_applies(const EpilogueArgs& a) {
  return !a.token_ids && a.params.groups == 1;
}

// The register path for groups of 32 experts (warp_group_slots): standalone epilogue kernel and
// decode tail (the fused bf16 router keeps the list path).
__host__ __device__ __forceinline__ bool group_register_path_applies(const EpilogueArgs& a) {
  return !a.token_ids && a.group_registers && group_slots_apply(a.params);
}

// Calls f(RegisterWidth<J>{}) with J = experts per lane (E / 32 rounded up) rounded up to one of
// the instantiated widths: the one place that picks the register-path instance (the device entry
// below, the standalone kernel's launcher, the emulated-warp test).
template <int J>
struct RegisterWidth {
  static constexpr int value = J;
};
#if defined(__CUDACC__)
#pragma nv_exec_check_disable  // f is host-only in the launcher, device-only in the warp entry
#endif
template <class F>
__host__ __device__ __forceinline__ void with_register_width(int64_t experts, F&& f) {
  const int64_t slots = (experts + 31) / 32;
  if (slots <= 1) f(RegisterWidth<1>{});
  else if (slots <= 2) f(RegisterWidth<2>{});
  else if (slots <= 4) f(RegisterWidth<4>{});
  else if (slots <= 8) f(RegisterWidth<8>{});
  else if (slots <= 12) f(RegisterWidth<12>{});
  else if (slots <= 16) f(RegisterWidth<16>{});
  else if (slots <= 24) f(RegisterWidth<24>{});
  else f(RegisterWidth<32>{});
}

// The register path for E experts (the fused routers' entry: no fresh paths).
__device__ __forceinline__ void warp_route_row_registers_any(const EpilogueArgs& a, int64_t row, float* L,
                                                             bool activated) {
  with_register_width(a.params.experts, [&](auto width) {
    warp_route_row_registers<decltype(width)::value>(a, row, L, activated);
  });
}

// Selection, weights and outputs of one row whose activations are in `act`; all 32 lanes call.
__device__ __forceinline__ void warp_select_row(const EpilogueArgs& a, int64_t row, float* act,
                                                WarpRowScratch& scratch) {
  if (register_path_applies(a))
    warp_route_row_registers_any(a, row, act, true);
  else
    warp_select_row_lists(a, row, act, scratch);
}

// Everything epilogue() does for one row, by one warp (all 32 lanes call with the same row).
// `row_logits` holds the row's E logits (shared or global memory) and may be overwritten with the
// activations; a.logits is not used.
__device__ __forceinline__ void warp_route_row(const EpilogueArgs& a, int64_t row, float* row_logits,
                                               WarpRowScratch& scratch) {
  if (register_path_applies(a)) {
    warp_route_row_registers_any(a, row, row_logits, false);
  } else {
    warp_activate_row(a, row, row_logits);
    warp_select_row_lists(a, row, row_logits, scratch);
  }
}

}  // namespace moerouter::cuda::detail
