// The activation screen: a cheap activation with a proven error bound, so that the warp epilogue
// evaluates the exact (contract) activation only for the experts that can still reach the top k.
//
// Why: the contract's sqrtsoftplus/sigmoid (core/include/moerouter/fmath.hpp) are built from IEEE
// + - * / sqrt and fmaf only, ~150 instructions an element; applied to every logit they were most
// of the GPU epilogue (≈110 µs of 16384 x 384 logits on an H100). The top k needs exact values of
// a handful of experts per row only.
//
// How it stays exact: screen_activation(l) uses the GPU's special-function unit (ex2, lg2, rcp,
// sqrt approximations). The [screen] test in tests/test_cuda.cpp checks, on all 2^32 float logits,
// that wherever it is finite the exact activation a satisfies |a - a'| <= kScreenCheckedRel * |a'| +
// kScreenCheckedAbs (and NaN/inf exactly where the exact one has them). warp_route_row_screened
// (epilogue_screened.cuh) then keeps every expert whose screened selection score could reach the
// k-th place after those errors and the roundings of "+ bias" (margin derivation there), computes
// the exact activation for those only, and selects among them with the exact total order. An
// expert left out is strictly below k kept experts in exact arithmetic, so the ids, weights and
// their order are select_topk's: the same bits as the CPU, not an approximation of them.
//
// Status: on by default since its first GPU run (NVIDIA H200, 2026-12-06): the exhaustive bound
// test and the CPU-vs-GPU suite pass with it on; the epilogue-version test runs the exact path
// against the CPU too, and MOEROUTER_TEST_FRESH_PATHS=0 runs the whole suite with it off.
// Only the standalone epilogue kernel instantiates it; the fused routers never screen.
#pragma once
#include <cstdint>

#include "moerouter/config.hpp"

namespace moerouter::cuda::detail {

// The bound the exhaustive test proves (it fails if any of the 2^32 logits breaks it). The margin
// in epilogue_screened.cuh uses 4x the relative term, so the proof has room to spare.
inline constexpr float kScreenCheckedRel = 0x1p-13f;
inline constexpr float kScreenCheckedAbs = 0x1p-126f;

#if defined(__CUDACC__)
__device__ __forceinline__ float screen_ex2(float x) {  // 2^x, SFU approximation, subnormals kept
  float y;
  asm("ex2.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float screen_lg2(float x) {
  float y;
  asm("lg2.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float screen_sqrt(float x) {
  float y;
  asm("sqrt.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float screen_rcp(float x) {
  float y;
  asm("rcp.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

inline constexpr float kScreenLog2e = 1.44269502925872802734375f;
inline constexpr float kScreenLn2 = 0.693147182464599609375f;

// sqrt(softplus(l)) the way fmath::sqrtsoftplus_f32 splits it (l > 20: sqrt(l); l < -20:
// exp(l/2)), each piece approximated. Small e = exp(l): log1p(e) by its series, since 1 + e would
// round e away.
__device__ __forceinline__ float screen_sqrtsoftplus(float l) {
  if (!(l <= 20.0f)) return screen_sqrt(l);  // l > 20, +inf, and NaN (stays NaN)
  if (l < -20.0f) return screen_ex2((0.5f * l) * kScreenLog2e);
  const float e = screen_ex2(l * kScreenLog2e);
  float softplus;
  if (e < 0x1p-6f)
    softplus = e * (1.0f - e * (0.5f - e * 0.333333343f));
  else
    softplus = screen_lg2(1.0f + e) * kScreenLn2;
  return screen_sqrt(softplus);
}

// sigmoid(l) = num / (1 + e), e = exp(-|l|), num = 1 (l >= 0) or e (l < 0), as fmath::sigmoid_f32.
__device__ __forceinline__ float screen_sigmoid(float l) {
  if (l != l) return l;
  const bool pos = l >= 0.0f;
  const float e = screen_ex2((pos ? -l : l) * kScreenLog2e);
  return (pos ? 1.0f : e) * screen_rcp(1.0f + e);
}

// The screened activation of the element-wise score functions (softmax is never screened).
__device__ __forceinline__ float screen_activation(float l, ScoreFn score) {
  return score == ScoreFn::Sigmoid ? screen_sigmoid(l) : screen_sqrtsoftplus(l);
}
#else
// A plain host compiler: the warp-emulation test (tests/test_warp_epilogue_emulated.cpp) compiles
// the warp epilogue for the CPU and supplies its own screened activation, one that pushes the error
// to the checked bound in either direction, so the selection's margin is tested at its limit.
float screen_activation(float l, ScoreFn score);
#endif

}  // namespace moerouter::cuda::detail
