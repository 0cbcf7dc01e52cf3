// The epilogue's activation over a row with AVX-512, bit-identical to the scalar code of
// moerouter/fmath.hpp and moerouter/epilogue.hpp (DESIGN.md §2) for every input.
//
// Why it can be identical: each lane performs the scalar function's IEEE operations in the same
// order (+ - * / fmaf sqrt are correctly rounded in SIMD exactly as in scalar code, denormals
// included as long as MXCSR keeps FTZ/DAZ off, which nothing here touches), the scalar branches
// become compare masks and blends that pick what the scalar code would have returned, and the
// integer bit tricks are the same integer operations. The reductions of softmax (max and the
// compensated sum over experts) keep the scalar order; only elementwise work is vectorized.
//
// Only declarations here: this header is included by translation units built without -mavx512f
// (the tests, the scalar and AVX2 epilogues). Callers must check cpu::isa_supported(Isa::Avx512).
#pragma once
#include <cstdint>

#include "moerouter/config.hpp"

namespace moerouter::cpu {

// act[e] = score(logits[e]) for e in [0, E): the same bits as epilogue::activate_row.
void activate_row_avx512(const float* logits, int64_t E, ScoreFn score, float* act);

// Elementwise out[i] = f(in[i]) for i in [0, n), the same bits as the fmath function of that name
// (exposed so that tests can check every component on every float). out may be in itself (not a
// partial overlap).
void exp_f32_avx512(const float* in, int64_t n, float* out);
void log1p_f32_avx512(const float* in, int64_t n, float* out);
void softplus_f32_avx512(const float* in, int64_t n, float* out);
void sqrtsoftplus_f32_avx512(const float* in, int64_t n, float* out);
void sigmoid_f32_avx512(const float* in, int64_t n, float* out);
// out[i] = epilogue::exp_of_difference(a[i], b).
void exp_of_difference_avx512(const float* a, float b, int64_t n, float* out);

}  // namespace moerouter::cpu
