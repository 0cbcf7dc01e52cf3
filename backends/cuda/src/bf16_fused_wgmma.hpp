// The Hopper (sm_90a) main loop of the fused bf16 router (bf16_fused_wgmma.cu): TMA + mbarrier
// pipeline feeding wgmma, then the same in-block warp epilogue as the mma.sync kernel
// (bf16_fused.cu), which chooses between the two. Internal to the CUDA backend.
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels.hpp"

namespace moerouter::cuda::detail {

// Largest E the wgmma kernel takes (2 x 192 experts per consumer warpgroup).
inline constexpr int64_t kWgmmaMaxExperts = 384;

// Shapes the wgmma kernel computes: BF16 x (TMA copies x as it is; F32 x stays on the mma.sync
// kernel), 1 <= E <= 384, H a multiple of 64, x 16-byte aligned with a row stride of a multiple of
// 16 bytes. The caller has checked for an sm_90 device.
bool bf16_wgmma_can_run(int64_t experts, int64_t hidden, const XView& x);

// Runs it on `stream` (requires bf16_wgmma_can_run). phases: bit 0 main loop, bit 1 epilogue.
void bf16_wgmma_route(const FusedRouteArgs& a, int phases, cudaStream_t stream);

// Test/bench hook: 2 (default) = clusters of 2 CTAs sharing each W tile (TMA multicast), 1 = none.
void bf16_wgmma_force_cluster(int ctas);

}  // namespace moerouter::cuda::detail
