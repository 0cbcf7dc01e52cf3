// Epilogue math shared bit for bit by host and device code (DESIGN.md §2).
//
// Built only from + - * / fmaf sqrt and bit manipulation: no libm transcendental, no CUDA
// intrinsic, no fast-math. Host TUs are compiled with -ffp-contract=off and device code with
// --fmad=false, so every expression below rounds in the same places on both sides. Denormals are
// kept. Every NaN produced is the canonical quiet NaN 0x7FC00000.
#pragma once
#include <cstdint>
#include <cstring>
#if !defined(__CUDACC__)
#include <cmath>
#endif

#if defined(__CUDACC__)
#define MR_HD __host__ __device__ __forceinline__
#else
// static: internal linkage, so the copies compiled into per-ISA translation units (-mfma etc.) are
// never merged by the linker with a copy built for another ISA (an ODR trap with inline).
#define MR_HD static inline
#endif

namespace moerouter::fmath {

MR_HD uint32_t to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

MR_HD float from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

inline constexpr uint32_t kCanonicalNanBits = 0x7FC00000u;

MR_HD float canonical_nan() { return from_bits(kCanonicalNanBits); }
MR_HD float infinity() { return from_bits(0x7F800000u); }
MR_HD bool is_nan(float x) { return (to_bits(x) & 0x7FFFFFFFu) > 0x7F800000u; }
MR_HD bool is_finite(float x) { return (to_bits(x) & 0x7F800000u) != 0x7F800000u; }
// Every float a backend writes passes through this, so NaN payloads never depend on the hardware.
MR_HD float canonicalize(float x) { return is_nan(x) ? canonical_nan() : x; }

// fmaf and sqrt are correctly rounded IEEE operations on both sides.
MR_HD float fma(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return fmaf(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

MR_HD float sqrt(float x) {
#if defined(__CUDA_ARCH__)
  return sqrtf(x);  // IEEE round-to-nearest (-prec-sqrt=true is nvcc's default; never fast-math)
#else
  return std::sqrt(x);
#endif
}

// 2^n for n in [-126, 127], built from bits.
MR_HD float pow2i(int n) { return from_bits(static_cast<uint32_t>(n + 127) << 23); }

// exp(x) within 1 ulp (max 1 over all 2^32 inputs, tests/fmath_exhaustive.cpp). Range reduction
// x = n*ln2 + r (|r| <= ln2/2) with a two-part ln2 and fmaf, degree-7 Taylor polynomial
// (truncation < 0.1 ulp), then scaling by 2^n in two exact-or-once-rounded steps so subnormal
// results round once. Its overflow-to-inf and underflow-to-0 thresholds match the correctly
// rounded ones exactly (checked on all inputs).
MR_HD float exp_f32(float x) {
  if (is_nan(x)) return canonical_nan();
  if (x > 89.0f) return infinity();
  if (x < -104.0f) return 0.0f;
  const float kLog2e = 1.44269502925872802734375f;
  const float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to integer (|x*log2e| < 2^22)
  const float n = (x * kLog2e + kRound) - kRound;
  const float kLn2Hi = 0.693147182464599609375f;  // float(ln 2)
  const float kLn2Lo = -1.904654323148236e-09f;   // ln 2 - kLn2Hi
  float r = fma(n, -kLn2Hi, x);
  r = fma(n, -kLn2Lo, r);
  float p = 1.98412698412698e-04f;             // 1/5040
  p = fma(p, r, 1.38888888888889e-03f);        // 1/720
  p = fma(p, r, 8.33333333333333e-03f);        // 1/120
  p = fma(p, r, 4.16666666666667e-02f);        // 1/24
  p = fma(p, r, 1.66666666666667e-01f);        // 1/6
  p = fma(p, r, 0.5f);
  p = fma(p, r, 1.0f);
  p = fma(p, r, 1.0f);
  const int ni = static_cast<int>(n);
  const int n1 = ni / 2;
  const int n2 = ni - n1;
  return (p * pow2i(n1)) * pow2i(n2);
}

// log1p(y), within 1 ulp (max 1 over all 2^32 inputs, tests/fmath_exhaustive.cpp). Steps:
//  1. u = 1 + y rounded; its rounding error e = (1 + y) - u is recovered exactly (Knuth's TwoSum),
//     and log1p(y) = log(u + e) = log(u) + e/u (the dropped (e/u)^2/2 is below 2^-49 relative).
//  2. u = 2^k * m with m in [sqrt(2)/2, sqrt(2)) from the bits (u >= 2^-24 is normal); f = m - 1 is
//     exact (Sterbenz).
//  3. log(m) = 2 atanh(s) = 2s + s * R(z), s = f / (2 + f), z = s^2, |s| <= 0.1716, with
//     R(z) = 2z/3 + 2z^2/5 + 2z^3/7 + 2z^4/9 (the Taylor series; the next term is < 0.03 ulp).
//     s is carried as s_hi + s_lo: 2 + f as a TwoSum pair and the quotient's remainder by fma, so
//     the large term 2s = 2 s_hi + 2 s_lo is exact to ~2^-48 and only the small s*R rounds.
//  4. k ln2 = k ln2_hi + k ln2_lo, ln2_hi of 15 significant bits (k ln2_hi exact, k in [-24, 128]);
//     the two large terms k ln2_hi + 2 s_hi are added by TwoSum, every small term is gathered, and
//     the result rounds once at the end.
MR_HD float log1p_f32(float y) {
  if (is_nan(y)) return canonical_nan();
  if (y == infinity()) return y;
  if (y < -1.0f) return canonical_nan();
  if (y == -1.0f) return -infinity();
  if ((to_bits(y) & 0x7FFFFFFFu) < 0x33800000u) {
    // |y| < 2^-24: y - y^2/2 rounded once (y^3/3 is below 2^-49 relative); keeps -0.0, and for a
    // subnormal y the product underflows harmlessly to give y.
    return fma(-0.5f * y, y, y);
  }
  // 1. u = 1 + y and its exact rounding error.
  const float u = 1.0f + y;
  const float u_y = u - y;
  const float u_1 = u - u_y;
  const float err = (1.0f - u_y) + (y - u_1);
  const float c = err / u;
  // 2. u = 2^k * m.
  const uint32_t ub = to_bits(u);
  int k = static_cast<int>(ub >> 23) - 127;
  float m = from_bits((ub & 0x007FFFFFu) | 0x3F800000u);  // [1, 2)
  if (m > 1.41421353816986083984375f) {                     // float(sqrt(2)), 0x3FB504F3
    m = 0.5f * m;
    k += 1;
  }
  const float f = m - 1.0f;
  // 3. s = f / (2 + f) as s_hi + s_lo.
  const float d_hi = 2.0f + f;
  const float d_lo = f - (d_hi - 2.0f);  // exact: |2| >= |f| (Fast2Sum)
  const float s_hi = f / d_hi;
  const float rem = fma(-s_hi, d_hi, f);  // f - s_hi * d_hi, exact
  const float s_lo = (rem - s_hi * d_lo) / d_hi;
  const float z = s_hi * s_hi;
  float R = 0x1.c71c72p-3f;        // 2/9
  R = fma(R, z, 0x1.24924ap-2f);   // 2/7
  R = fma(R, z, 0x1.99999ap-2f);   // 2/5
  R = fma(R, z, 0x1.555556p-1f);   // 2/3
  R = R * z;
  // 4. k ln2 + 2 s_hi (TwoSum) + small terms.
  const float dk = static_cast<float>(k);
  const float kLn2Hi = 0x1.62e4p-1f;      // ln 2 to 15 bits: 0.693145751953125
  const float kLn2Lo = 0x1.7f7d1cp-20f;   // ln 2 - kLn2Hi, rounded
  const float a = dk * kLn2Hi;            // exact
  const float b = 2.0f * s_hi;            // exact
  const float hi = a + b;
  const float hi_b = hi - a;
  const float hi_a = hi - hi_b;
  const float lo = (a - hi_a) + (b - hi_b);
  const float tail = s_hi * R + (2.0f * s_lo + (dk * kLn2Lo + c));
  return hi + (lo + tail);
}

// softplus(l) = log(1 + e^l); l itself above 20 (DESIGN.md §1).
MR_HD float softplus_f32(float l) {
  if (l > 20.0f) return l;
  return log1p_f32(exp_f32(l));
}

// sqrt(softplus(l)). Below l = -20, softplus(l) = e^l (1 - e^l/2 + ...), so sqrt(softplus(l)) =
// e^(l/2) (1 - e^l/4 + ...) with the correction under 2^-30 relative; exp(l/2) is used there
// because sqrt of the float softplus loses everything once softplus goes subnormal (l < -87.3:
// millions of ulp) or underflows to 0 (l < -104, although e^(l/2) stays representable down to
// l = -207.9). 0.5f * l is exact here.
MR_HD float sqrtsoftplus_f32(float l) {
  if (l < -20.0f) return exp_f32(0.5f * l);
  return canonicalize(sqrt(softplus_f32(l)));
}

// sigmoid without overflow on either side: num / (1 + e) with e = exp(-|l|) <= 1, num = 1 for
// l >= 0 and num = e for l < 0. The rounding of 1 + e and of the division are compensated (the
// sum's error t is exact by Fast2Sum since 1 >= e, the quotient's remainder is exact by fma), so
// the result is num / (1 + e) to ~0.5 ulp and the only sizeable error left is exp's: without this
// the plain e / (1 + e) reached 2 ulp (e.g. l = -1.0988).
MR_HD float sigmoid_f32(float l) {
  if (is_nan(l)) return canonical_nan();
  const bool pos = l >= 0.0f;
  const float e = exp_f32(pos ? -l : l);
  const float num = pos ? 1.0f : e;
  const float d = 1.0f + e;
  const float t = (1.0f - d) + e;      // (1 + e) - d, exactly
  const float q = num / d;
  const float rem = fma(-q, d, num);   // num - q * d, exactly
  return q + (rem - q * t) / d;        // num / (d + t) = q + (rem - q*t) / (d + t), t/d < 2^-24
}

}  // namespace moerouter::fmath
