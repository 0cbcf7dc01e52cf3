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
#define MR_HD inline
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

// exp(x) to within ~1 ulp. Range reduction x = n*ln2 + r (|r| <= ln2/2) with a two-part ln2 and
// fmaf, degree-7 Taylor polynomial (truncation < 0.1 ulp), then scaling by 2^n in two exact-or-
// once-rounded steps so subnormal results round once.
MR_HD float exp_f32(float x) {
  if (is_nan(x)) return canonical_nan();
  if (x > 89.0f) return infinity();
  if (x < -104.0f) return 0.0f;
  const float kLog2e = 1.44269502925872802734375f;
  const float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer (|x*log2e| < 2^22)
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

// log1p(y) for y >= -1, ~1 ulp. 1+y = 2^k * m with m in [sqrt(2)/2, sqrt(2)); the rounding error of
// 1+y is carried as a correction term c; log(m) = f - f^2/2 + s*(f^2/2 + R(s^2)), s = f/(2+f),
// with the classic single-precision minimax coefficients for R.
MR_HD float log1p_f32(float y) {
  if (is_nan(y)) return canonical_nan();
  if (y == infinity()) return y;
  if (y < -1.0f) return canonical_nan();
  if (y == -1.0f) return -infinity();
  const uint32_t abs_bits = to_bits(y) & 0x7FFFFFFFu;
  if (abs_bits < 0x33800000u) return y;  // |y| < 2^-24: log1p(y) rounds to y (keeps -0.0)
  const float u = 1.0f + y;
  uint32_t iu = to_bits(u) + (0x3F800000u - 0x3F3504F3u);
  const int k = static_cast<int>(iu >> 23) - 127;
  float c = 0.0f;
  if (k < 25) {
    c = (k >= 2) ? 1.0f - (u - y) : y - (u - 1.0f);  // exact: (1 + y) - u
    c = c / u;
  }
  iu = (iu & 0x007FFFFFu) + 0x3F3504F3u;
  const float f = from_bits(iu) - 1.0f;
  const float s = f / (2.0f + f);
  const float z = s * s;
  const float w = z * z;
  const float kLg1 = 0.66666662693f, kLg2 = 0.40000972152f, kLg3 = 0.28498786688f,
              kLg4 = 0.24279078841f;
  const float t1 = w * (kLg2 + w * kLg4);
  const float t2 = z * (kLg1 + w * kLg3);
  const float R = t2 + t1;
  const float hfsq = 0.5f * f * f;
  const float dk = static_cast<float>(k);
  const float kLn2Hi = 6.9313812256e-01f;  // 0x3f317180: ln2 with trailing zero bits
  const float kLn2Lo = 9.0580006145e-06f;  // 0x3717f7d1
  return s * (hfsq + R) + (dk * kLn2Lo + c) - hfsq + f + dk * kLn2Hi;
}

// softplus(l) = log(1 + e^l); l itself above 20 (DESIGN.md §1).
MR_HD float softplus_f32(float l) {
  if (l > 20.0f) return l;
  return log1p_f32(exp_f32(l));
}

MR_HD float sqrtsoftplus_f32(float l) { return canonicalize(sqrt(softplus_f32(l))); }

// sigmoid without overflow on either side: e/(1+e) with e = exp(l) <= 1 for l < 0.
MR_HD float sigmoid_f32(float l) {
  if (is_nan(l)) return canonical_nan();
  if (l >= 0.0f) {
    const float e = exp_f32(-l);
    return 1.0f / (1.0f + e);
  }
  const float e = exp_f32(l);
  return e / (1.0f + e);
}

}  // namespace moerouter::fmath
