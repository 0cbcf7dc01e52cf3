// The bf16 tensor-core router in one launch (bf16_fused.cu): logits = bf16(x) · bf16(W)ᵀ with FP32
// accumulation, then the shared warp epilogue on each row while its logits are still in shared
// memory, so the [n, E] logits never go to device memory (only to epi.logits_out when asked).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels.hpp"

namespace moerouter::cuda::detail {

// True when bf16_fused_route handles this call on the current device and is expected to beat
// cuBLAS + the separate epilogue there: a Hopper (sm_90) device, E <= 384, H a multiple of 64,
// x 16-byte aligned with a row stride of a multiple of 16 bytes, and n at or above the measured
// crossover. False: the caller keeps cuBLAS + epilogue().
bool bf16_fused_supports(int64_t n, int64_t experts, int64_t hidden, const XView& x);

// Shapes only (no crossover): what the kernel can compute at all. Tests use it to run the kernel on
// small n too.
bool bf16_fused_can_run(int64_t experts, int64_t hidden, const XView& x);

// Runs the fused router on `stream`. Requires bf16_fused_can_run(). Writes epi.weights_out,
// epi.ids_out, and epi.logits_out / counts / nonfinite when non-null, exactly as
// bf16_gemm_logits + epilogue() would given the same logits; epi.logits is not touched.
void bf16_fused_route(const FusedRouteArgs& a, cudaStream_t stream);

// Test/bench hook: 0 = choose by n, 64 or 128 = force that many rows per block (mma.sync kernel).
void bf16_fused_force_block_rows(int rows);
// Test/bench hook: which main loop runs. 0 = the choice of bf16_fused_route (wgmma where
// bf16_wgmma_can_run, else mma.sync), 1 = always mma.sync, 2 = wgmma where it can run (clusters of
// 2 CTAs sharing W), 3 = wgmma without clusters.
void bf16_fused_force_kernel(int which);
// Measurement only: bit 0 runs the main loop, bit 1 the epilogue (3 = both, the default).
void bf16_fused_debug_phases(int phases);

}  // namespace moerouter::cuda::detail
