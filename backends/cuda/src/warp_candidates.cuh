// The three steps that select one row's top k with few dependent warp collectives, used by the
// screened standalone epilogue (epilogue_screened.cuh: screened keys, exact activations afterwards).
// (The decode tail used them with exact keys for its one row in session 7: no faster than
// warp_select_registers on an H100, 2.9 vs 2.6 us, and +7 min of ptxas, so it went.)
//  1. warp_kth_lane_key: t = the k-th largest of the lanes' best keys, counted with multiplicity.
//     Each lane's best is at least each of its keys, so at least k experts have a key >= t, and
//     every expert of the top k has a key >= t (in whichever key order the caller uses).
//  2. warp_compact_candidates: the experts the caller marks (key >= its threshold) are compacted in
//     (slot, lane) order through per-warp shared memory, one per lane (at most 32).
//  3. warp_rank_candidates: k rounds of (max exact key, then lowest expert among its holders) over
//     one candidate per lane give select_topk's ids in rank order; the weights' sum is accumulated
//     in that order, as gather_weights does.
#pragma once
#include <cstdint>

#include "epilogue_device.cuh"

namespace moerouter::cuda::detail {

// Per-warp shared scratch of the compaction: at most 32 candidates per row.
struct ScreenScratch {
  float2 candidate[32];  // (value, expert id as float bits): one 64-bit store per candidate
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

// Step 1. `lane_best`: this lane's best key (0 = none; lanes without experts pass alive = false).
// Each round removes the lanes holding the current top. Returns false (warp-uniform) when the top
// reaches 0 before k lanes were counted: fewer than k lanes with a nonzero key (NaN keys are 0).
__device__ __forceinline__ bool warp_kth_lane_key(uint32_t lane_best, bool alive, int k, uint32_t& t) {
  int removed = 0;
  while (true) {
    const uint32_t top = __reduce_max_sync(kFullWarpMask, alive ? lane_best : 0u);
    const uint32_t holders = __ballot_sync(kFullWarpMask, alive && lane_best == top);
    if (top == 0u || holders == 0u) return false;
    removed += __popc(holders);
    if (removed >= k) {
      t = top;
      return true;
    }
    if (alive && lane_best == top) alive = false;
  }
}

// Step 2. Stores value[j] of every expert lane + 32 j with candidate[j] into the slots, in (j, lane)
// order: one ballot per slot gives each candidate its place (the candidates before it); cheaper than
// pulling the i-th set bit of every ballot into lane i with shuffles. Returns the number of
// candidates (warp-uniform); only the first 32 are stored. Lane i then reads place i (take_candidate).
template <int J>
__device__ __forceinline__ int warp_compact_candidates(const CandidateSlots& slots, const bool (&candidate)[J],
                                                       const float (&value)[J]) {
  const int lane = threadIdx.x % 32;
  const uint32_t lanes_below = (1u << lane) - 1u;
  int base = 0;
#pragma unroll
  for (int j = 0; j < J; ++j) {
    const uint32_t m = __ballot_sync(kFullWarpMask, candidate[j]);
    const int place = base + __popc(m & lanes_below);
    if (candidate[j] && place < 32)
      slots.store(place, make_float2(value[j], __uint_as_float(static_cast<uint32_t>(lane + 32 * j))));
    base += __popc(m);
  }
  return base;
}

// This lane's candidate after a compaction of `count` <= 32: returns its expert (-1 past the count)
// and its value. The scratch may be written again after it returns (every lane has read its place).
__device__ __forceinline__ int32_t take_candidate(const CandidateSlots& slots, int count, float& value) {
  const int lane = threadIdx.x % 32;
  __syncwarp();
  const bool has = lane < count;
  const float2 mine = has ? slots.load(lane) : make_float2(0.0f, 0.0f);
  __syncwarp();
  value = mine.x;
  return has ? static_cast<int32_t>(__float_as_uint(mine.y)) : -1;
}

// Step 3. `key`: the exact rank_key of this lane's candidate (expert `id`, -1 = none), `act` its
// unbiased activation. Writes the row's ids, weights and counts.
__device__ __forceinline__ void warp_rank_candidates(const EpilogueArgs& a, int64_t row, int32_t id, uint32_t key,
                                                     float act) {
  const int lane = threadIdx.x % 32;
  bool open = id >= 0;
  float sum = 0.0f, my_act = 0.0f;
  int32_t my_id = 0;
  // The lowest expert among the holders of the top key and the lane holding it, in one reduction:
  // experts are distinct and < 2^26, so (expert << 5 | lane) orders like the expert.
  const uint32_t tag = (static_cast<uint32_t>(id) << 5) | static_cast<uint32_t>(lane);
  for (int r = 0; r < a.params.top_k; ++r) {
    const uint32_t top_key = __reduce_max_sync(kFullWarpMask, open ? key : 0u);
    const uint32_t won = __reduce_min_sync(kFullWarpMask, open && key == top_key ? tag : 0xFFFFFFFFu);
    const int owner = static_cast<int>(won & 31u);
    const float v = __shfl_sync(kFullWarpMask, act, owner);
    if (lane == owner) open = false;
    sum = sum + v;  // rank order, as gather_weights
    if (lane == r) {
      my_id = static_cast<int32_t>(won >> 5);
      my_act = v;
    }
  }
  warp_write_ranked(a, row, my_id, my_act, sum);
}

}  // namespace moerouter::cuda::detail
