// AVX-512 activation, lane for lane the scalar code of moerouter/fmath.hpp and epilogue.hpp.
//
// Built with -mavx512f -mfma (backends/cpu/CMakeLists.txt) and, like every host TU, with
// -ffp-contract=off: GCC implements _mm512_mul_ps/_mm512_add_ps as plain vector * and +, so
// without that flag it could fuse them into an FMA the scalar code does not have. Only AVX512F
// instructions are used (no DQ: the sign flips and masks are integer operations).
//
// How each scalar construct is mirrored, so that every lane rounds exactly where the scalar code
// rounds (checked on all 2^32 inputs by tests/activation_simd_exhaustive.cpp):
//  - + - * / fmaf sqrt: the packed instruction of the same IEEE operation, operands in the same
//    order (x + y and y + x are the same IEEE result, but the text follows fmath anyway).
//  - a branch returning early: the main path is computed for every lane, then the lanes the
//    scalar code would have returned from early are overwritten by mask moves. The scalar
//    conditions of one function are mutually exclusive (NaN compares false everywhere), so the
//    order of the moves does not matter (they are written from the last check to the first).
//    Lanes that take an early return may compute garbage (NaN, cvtt's 0x80000000) on the main
//    path; SIMD integer arithmetic wraps, so this is harmless and is always overwritten.
//  - comparisons: ordered, non-signalling predicates (_OQ) are C's < > >= == on floats (false for
//    NaN); is_nan, is_finite and log1p's tiny-|y| test are the same integer tests on the bits.
//  - static_cast<int>(n) of an integral float is cvtt (truncation, exact here); C's ni / 2
//    truncates toward zero, which is (ni + (ni >>> 31)) >> 1 with an arithmetic shift.
// MXCSR is never touched: denormals are kept, the rounding mode is round-to-nearest as in scalar.
#include "activate_avx512.hpp"

#include <immintrin.h>

#include "moerouter/epilogue.hpp"
#include "moerouter/fmath.hpp"

namespace moerouter::cpu {

namespace {

using V = __m512;
using I = __m512i;
using M = __mmask16;

inline V splat(float f) { return _mm512_set1_ps(f); }
inline I splat_i(uint32_t u) { return _mm512_set1_epi32(static_cast<int>(u)); }
inline I bits(V x) { return _mm512_castps_si512(x); }
inline V from_bits(I u) { return _mm512_castsi512_ps(u); }
inline V canonical_nan() { return from_bits(splat_i(fmath::kCanonicalNanBits)); }
inline V infinity() { return from_bits(splat_i(0x7F800000u)); }
// -x: flips the sign bit, as the scalar unary minus does (exact, any payload).
inline V negate(V x) { return from_bits(_mm512_xor_si512(bits(x), splat_i(0x80000000u))); }

// fmath::is_nan / is_finite: the same integer tests on the bits.
inline M is_nan(V x) {
  return _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits(x), splat_i(0x7FFFFFFFu)), splat_i(0x7F800000u));
}
inline M is_finite(V x) {
  return _mm512_cmpneq_epi32_mask(_mm512_and_si512(bits(x), splat_i(0x7F800000u)), splat_i(0x7F800000u));
}
inline V canonicalize(V x) { return _mm512_mask_mov_ps(x, is_nan(x), canonical_nan()); }

inline V add(V a, V b) { return _mm512_add_ps(a, b); }
inline V sub(V a, V b) { return _mm512_sub_ps(a, b); }
inline V mul(V a, V b) { return _mm512_mul_ps(a, b); }
inline V div(V a, V b) { return _mm512_div_ps(a, b); }
inline V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline M lt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
inline M gt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
inline M ge(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
inline M eq(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
// mask ? b : a, per lane.
inline V select(M mask, V b, V a) { return _mm512_mask_mov_ps(a, mask, b); }

// fmath::pow2i: 2^n from the bits, (n + 127) << 23.
inline V pow2i(I n) { return from_bits(_mm512_slli_epi32(_mm512_add_epi32(n, splat_i(127)), 23)); }

// fmath::exp_f32.
inline V exp_v(V x) {
  const M nan = is_nan(x);
  const M over = gt(x, splat(89.0f));
  const M under = lt(x, splat(-104.0f));
  const float kLog2e = 1.44269502925872802734375f;
  const V kRound = splat(12582912.0f);
  const V n = sub(add(mul(x, splat(kLog2e)), kRound), kRound);
  const float kLn2Hi = 0.693147182464599609375f;
  const float kLn2Lo = -1.904654323148236e-09f;
  V r = fma(n, splat(-kLn2Hi), x);
  r = fma(n, splat(-kLn2Lo), r);
  V p = splat(1.98412698412698e-04f);
  p = fma(p, r, splat(1.38888888888889e-03f));
  p = fma(p, r, splat(8.33333333333333e-03f));
  p = fma(p, r, splat(4.16666666666667e-02f));
  p = fma(p, r, splat(1.66666666666667e-01f));
  p = fma(p, r, splat(0.5f));
  p = fma(p, r, splat(1.0f));
  p = fma(p, r, splat(1.0f));
  const I ni = _mm512_cvttps_epi32(n);
  const I n1 = _mm512_srai_epi32(_mm512_add_epi32(ni, _mm512_srli_epi32(ni, 31)), 1);  // ni / 2
  const I n2 = _mm512_sub_epi32(ni, n1);
  V res = mul(mul(p, pow2i(n1)), pow2i(n2));
  res = select(under, _mm512_setzero_ps(), res);
  res = select(over, infinity(), res);
  return select(nan, canonical_nan(), res);
}

// fmath::log1p_f32.
inline V log1p_v(V y) {
  const V one = splat(1.0f), two = splat(2.0f);
  const M nan = is_nan(y);
  const M pos_inf = eq(y, infinity());
  const M below = lt(y, splat(-1.0f));
  const M minus_one = eq(y, splat(-1.0f));
  const M tiny = _mm512_cmplt_epu32_mask(_mm512_and_si512(bits(y), splat_i(0x7FFFFFFFu)),
                                         splat_i(0x33800000u));
  const V tiny_res = fma(mul(splat(-0.5f), y), y, y);
  // 1. u = 1 + y and its exact rounding error.
  const V u = add(one, y);
  const V u_y = sub(u, y);
  const V u_1 = sub(u, u_y);
  const V err = add(sub(one, u_y), sub(y, u_1));
  const V c = div(err, u);
  // 2. u = 2^k * m.
  const I ub = bits(u);
  I k = _mm512_sub_epi32(_mm512_srli_epi32(ub, 23), splat_i(127));
  V m = from_bits(_mm512_or_si512(_mm512_and_si512(ub, splat_i(0x007FFFFFu)), splat_i(0x3F800000u)));
  const M big = gt(m, splat(1.41421353816986083984375f));
  m = _mm512_mask_mul_ps(m, big, splat(0.5f), m);
  k = _mm512_mask_add_epi32(k, big, k, splat_i(1));
  const V f = sub(m, one);
  // 3. s = f / (2 + f) as s_hi + s_lo.
  const V d_hi = add(two, f);
  const V d_lo = sub(f, sub(d_hi, two));
  const V s_hi = div(f, d_hi);
  const V rem = fma(negate(s_hi), d_hi, f);
  const V s_lo = div(sub(rem, mul(s_hi, d_lo)), d_hi);
  const V z = mul(s_hi, s_hi);
  V R = splat(0x1.c71c72p-3f);
  R = fma(R, z, splat(0x1.24924ap-2f));
  R = fma(R, z, splat(0x1.99999ap-2f));
  R = fma(R, z, splat(0x1.555556p-1f));
  R = mul(R, z);
  // 4. k ln2 + 2 s_hi (TwoSum) + small terms.
  const V dk = _mm512_cvtepi32_ps(k);
  const V kLn2Hi = splat(0x1.62e4p-1f);
  const V kLn2Lo = splat(0x1.7f7d1cp-20f);
  const V a = mul(dk, kLn2Hi);
  const V b = mul(two, s_hi);
  const V hi = add(a, b);
  const V hi_b = sub(hi, a);
  const V hi_a = sub(hi, hi_b);
  const V lo = add(sub(a, hi_a), sub(b, hi_b));
  const V tail = add(mul(s_hi, R), add(mul(two, s_lo), add(mul(dk, kLn2Lo), c)));
  V res = add(hi, add(lo, tail));
  res = select(tiny, tiny_res, res);
  res = select(minus_one, negate(infinity()), res);
  res = select(below, canonical_nan(), res);
  res = select(pos_inf, y, res);
  return select(nan, canonical_nan(), res);
}

// fmath::softplus_f32.
inline V softplus_v(V l) { return select(gt(l, splat(20.0f)), l, log1p_v(exp_v(l))); }

// fmath::sqrtsoftplus_f32. One exp per lane: its argument is 0.5f * l on the lanes that return
// exp(0.5f * l) (l < -20) and l on the others, which is what each lane's scalar call evaluates.
inline V sqrtsoftplus_v(V l) {
  const M low = lt(l, splat(-20.0f));
  const V e = exp_v(_mm512_mask_mul_ps(l, low, splat(0.5f), l));
  const V softplus = select(gt(l, splat(20.0f)), l, log1p_v(e));
  return select(low, e, canonicalize(_mm512_sqrt_ps(softplus)));
}

// fmath::sigmoid_f32.
inline V sigmoid_v(V l) {
  const V one = splat(1.0f);
  const M nan = is_nan(l);
  const M pos = ge(l, _mm512_setzero_ps());
  const V e = exp_v(select(pos, negate(l), l));
  const V num = select(pos, one, e);
  const V d = add(one, e);
  const V t = add(sub(one, d), e);
  const V q = div(num, d);
  const V rem = fma(negate(q), d, num);
  const V res = add(q, div(sub(rem, mul(q, t)), d));
  return select(nan, canonical_nan(), res);
}

// epilogue::exp_of_difference(a, b) with b the same for every lane; nb = -b is computed once.
inline V exp_of_difference_v(V a, V nb) {
  const V d = add(a, nb);
  const V bv = sub(d, a);
  const V r = add(sub(a, sub(d, bv)), sub(nb, bv));
  const V e = exp_v(d);
  return _mm512_mask_mov_ps(e, is_finite(d) & is_finite(r), fma(e, r, e));
}

// out[i] = f(in[i]); the last n % 16 elements through a masked load/store (the masked-off lanes
// load 0.0f, are computed and discarded; a masked load never touches memory past the end).
template <class F>
inline void apply(const float* in, int64_t n, float* out, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(in + i)));
  if (i < n) {
    const M tail = static_cast<M>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(out + i, tail, f(_mm512_maskz_loadu_ps(tail, in + i)));
  }
}

}  // namespace

void exp_f32_avx512(const float* in, int64_t n, float* out) { apply(in, n, out, exp_v); }
void log1p_f32_avx512(const float* in, int64_t n, float* out) { apply(in, n, out, log1p_v); }
void softplus_f32_avx512(const float* in, int64_t n, float* out) { apply(in, n, out, softplus_v); }
void sqrtsoftplus_f32_avx512(const float* in, int64_t n, float* out) {
  apply(in, n, out, sqrtsoftplus_v);
}
void sigmoid_f32_avx512(const float* in, int64_t n, float* out) { apply(in, n, out, sigmoid_v); }
void exp_of_difference_avx512(const float* a, float b, int64_t n, float* out) {
  const V nb = splat(-b);
  apply(a, n, out, [nb](V x) { return exp_of_difference_v(x, nb); });
}

// epilogue::activate_row. Softmax keeps the scalar max loop and the scalar compensated sum in
// ascending expert order (reductions: their order is part of the contract); the exp_of_difference
// pass that the scalar code interleaves with the sum is done first for the whole row, which
// changes nothing since each term depends only on logits[e] and the max.
void activate_row_avx512(const float* logits, int64_t E, ScoreFn score, float* act) {
  if (score == ScoreFn::SqrtSoftplus) {
    apply(logits, E, act, sqrtsoftplus_v);
  } else if (score == ScoreFn::Sigmoid) {
    apply(logits, E, act, sigmoid_v);
  } else {
    float m = logits[0];
    bool any_nan = fmath::is_nan(m);
    for (int64_t e = 1; e < E; ++e) {
      any_nan = any_nan || fmath::is_nan(logits[e]);
      if (logits[e] > m) m = logits[e];
    }
    if (any_nan) {
      for (int64_t e = 0; e < E; ++e) act[e] = fmath::canonical_nan();
      return;
    }
    exp_of_difference_avx512(logits, m, E, act);
    float sum = 0.0f, compensation = 0.0f;  // epilogue::activate_row's Neumaier sum, verbatim
    for (int64_t e = 0; e < E; ++e) {
      const float v = act[e];
      const float t = sum + v;
      if ((sum < 0.0f ? -sum : sum) >= v) compensation = compensation + ((sum - t) + v);
      else compensation = compensation + ((v - t) + sum);
      sum = t;
    }
    sum = sum + compensation;
    const V vsum = splat(sum);
    apply(act, E, act, [vsum](V v) { return canonicalize(div(v, vsum)); });
  }
}

}  // namespace moerouter::cpu
