// Selection of ONE row by one warp with few dependent steps, for callers with little else to do
// than wait on it: the decode router's tail block (one row at n = 1; 2.6 us of its 11.6 on an
// H100 with warp_select_registers, whose k rounds each rescan J slots per lane in a chain).
// Measured since (H100, 2026-12-07 12:52 UTC, decode trace): the tail still takes 2.9 us with this
// selection, no faster — ncu counts ~976 instructions on the one warp. NOTES.md (session 7) keeps
// the follow-up: spread the row over the tail block's idle warps, or drop this path.
//
// Exact keys throughout (no screen): t = the k-th largest of the lanes' best keys, counted with
// multiplicity, is at most the row's k-th largest key, so every expert of the top k has key >= t.
// Those experts (the candidates, usually about k) are compacted into one per lane through shared
// memory, and k rounds of (max key, then lowest expert among its holders) over one element per lane
// give select_topk's ids in rank order; the sum is accumulated in that order as gather_weights
// does. Same bits as warp_select_registers. Rows it cannot take cheaply (more than 32 candidates:
// ties, NaN rows whose keys are 0; k > 32; group limits) return false with nothing written.
#pragma once
#include <cstdint>

#include "epilogue_device.cuh"
#include "warp_candidates.cuh"

namespace moerouter::cuda::detail {

// act[j]: the activation of expert lane + 32 j (anything past E). All 32 lanes call; warp-uniform.
template <int J>
__device__ __forceinline__ bool warp_select_compact(const EpilogueArgs& a, int64_t row, const float (&act)[J],
                                                    ScreenScratch& scratch) {
  const int lane = threadIdx.x % 32;
  const epilogue::Params& p = a.params;
  const int E = static_cast<int>(p.experts);
  if (p.groups != 1 || p.top_k > 32) return false;
  uint32_t key[J];
  uint32_t best = 0u;
#pragma unroll
  for (int j = 0; j < J; ++j) {
    const int e = lane + 32 * j;
    key[j] = e < E ? rank_key(p.bias ? act[j] + p.bias[e] : act[j]) : 0u;
    best = max(best, key[j]);
  }
  uint32_t t = 0u;  // > 0 when found: NaN keys (0) are never candidates
  if (!warp_kth_lane_key(best, lane < E, p.top_k, t)) return false;
  bool candidate[J];
#pragma unroll
  for (int j = 0; j < J; ++j) candidate[j] = lane + 32 * j < E && key[j] >= t;
  const CandidateSlots slots(scratch);
  const int count = warp_compact_candidates<J>(slots, candidate, act);
  if (count > 32) return false;  // ties or a crowd at the k-th place (warp-uniform)
  float my_act = 0.0f;
  const int32_t my_e = take_candidate(slots, count, my_act);
  const uint32_t my_key = my_e >= 0 ? rank_key(p.bias ? my_act + p.bias[my_e] : my_act) : 0u;
  warp_rank_candidates(a, row, my_e, my_key, my_act);
  return true;
}

}  // namespace moerouter::cuda::detail
