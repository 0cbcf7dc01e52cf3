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
// The absolute term covers results that the flush-to-zero approximations below return as 0 (true
// values under ~2^-126); the selection's margin (2^-100 absolute) dwarfs it either way.
inline constexpr float kScreenCheckedAbs = 0x1p-125f;

#if defined(__CUDACC__)
// The .ftz forms: subnormal inputs read as 0 and subnormal results come out as 0, which the checked
// absolute term covers; the non-ftz forms spend several instructions per call on rescaling.
__device__ __forceinline__ float screen_ex2(float x) {  // 2^x
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float screen_lg2(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float screen_sqrt(float x) {
  float y;
  asm("sqrt.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float screen_rcp(float x) {
  float y;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

inline constexpr float kScreenLog2e = 1.44269502925872802734375f;
inline constexpr float kScreenLn2 = 0.693147182464599609375f;

// sqrt(softplus(l)) the way fmath::sqrtsoftplus_f32 splits it (l > 20: sqrt(l); l < -20:
// exp(l/2)), each piece approximated; small e = exp(l): log1p(e) by its series, since 1 + e would
// round e away. Written with selects, not branches: every piece is computed (three SFU calls) and
// the right one kept, so a warp never splits over its lanes' ranges. Pieces computed outside their
// range (an overflowing exp for l > 20) are discarded by the selects, never combined.
__device__ __forceinline__ float screen_sqrtsoftplus(float l) {
  const bool low = l < -20.0f;
  const float e = screen_ex2(l * (low ? 0.5f * kScreenLog2e : kScreenLog2e));
  // fmaf spelled out: device code is built with --fmad=false (the contract's arithmetic must not
  // be contracted), which would otherwise make this series five instructions instead of three.
  const float series = e * fmaf(-e, fmaf(-e, 0.333333343f, 0.5f), 1.0f);
  const float softplus = e < 0x1p-6f ? series : screen_lg2(1.0f + e) * kScreenLn2;
  const float root = screen_sqrt(l <= 20.0f ? softplus : l);  // l > 20, +inf and NaN: sqrt(l)
  return low ? e : root;
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
