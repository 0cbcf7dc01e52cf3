// The decode router (issue 4 item 2): for small batches (n <= kDecodeMaxRows) the whole route — gate
// GEMM, activation, top-k, weights, counts — in one kernel launch (decode_route.cu explains how).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels.hpp"
#include "moerouter/config.hpp"

namespace moerouter::cuda::detail {

inline constexpr int64_t kDecodeMaxRows = 64;

// Whether decode_route handles this call: 1 <= n <= kDecodeMaxRows in every gemm mode and every
// shape the config contract allows (E <= 1024, any H >= 1, x with any row stride).
bool decode_route_supports(GemmMode mode, int64_t n, int64_t experts, int64_t hidden);

// One launch. Canonical mode writes the CPU's bits; fp32 mode runs the canonical kernel (an fp32
// result in a fixed order); bf16 mode multiplies bf16(x) by the bf16 weights in FP32. a.epi.logits
// is scratch; a.grid_counter must be zero on entry and is zero again when the kernel ends.
// `w_bf16_exact`: every weight is a bf16 value (a.w_bf16 widens to a.w_f32 exactly, as when the
// weights were set as bf16). With bf16 x the canonical and fp32 modes then read W as bf16: the same
// products and sums in the same order, half the bytes.
void decode_route(GemmMode mode, const FusedRouteArgs& a, cudaStream_t stream, bool w_bf16_exact = false);

}  // namespace moerouter::cuda::detail
