// Accuracy of the shared host/device epilogue math (moerouter/fmath.hpp, DESIGN.md §2): at most
// 2 ulp against float64 libm rounded to float on every float class; every NaN produced is exactly
// 0x7FC00000; NaN/inf/zero results match the reference exactly (zeros with their sign).
//
// Inputs: a strided walk over all 2^32 bit patterns (odd stride, so every exponent and varied low
// mantissa bits), random patterns in every binade of both signs (NaN payloads included), ulp
// neighbourhoods of every threshold the code or the float format has, and a list of specials.
// tests/fmath_exhaustive.cpp runs all 2^32 inputs.
#include "moerouter/fmath.hpp"
#include "support/float_bits.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support/catch.hpp"

namespace {

namespace fm = moerouter::fmath;

using moerouter::testing::bits_of;
using moerouter::testing::float_of;
using moerouter::testing::ordinal;
std::string hex(uint32_t u) {
  std::ostringstream os;
  os << "0x" << std::hex << u;
  return os.str();
}

// float64 references; the float result is the correctly rounded conversion of the double.
double ref_softplus(double l) { return l > 20.0 ? l : std::log1p(std::exp(l)); }
double ref_sigmoid(double l) {
  if (l >= 0.0) return 1.0 / (1.0 + std::exp(-l));
  const double e = std::exp(l);
  return e / (1.0 + e);
}

constexpr int kNumFns = 5;
const char* const kNames[kNumFns] = {"exp_f32", "log1p_f32", "softplus_f32", "sqrtsoftplus_f32",
                                     "sigmoid_f32"};

float eval_got(int f, float x) {
  switch (f) {
    case 0: return fm::exp_f32(x);
    case 1: return fm::log1p_f32(x);
    case 2: return fm::softplus_f32(x);
    case 3: return fm::sqrtsoftplus_f32(x);
    default: return fm::sigmoid_f32(x);
  }
}
float eval_ref(int f, float x) {
  const double d = x;
  switch (f) {
    case 0: return static_cast<float>(std::exp(d));
    case 1: return static_cast<float>(std::log1p(d));
    case 2: return static_cast<float>(ref_softplus(d));
    case 3: return static_cast<float>(std::sqrt(ref_softplus(d)));
    default: return static_cast<float>(ref_sigmoid(d));
  }
}

constexpr int64_t kSpecialFail = int64_t{1} << 40;

// ulp distance, or kSpecialFail when a NaN/inf/zero result does not match exactly.
int64_t error_of(float got, float ref) {
  const uint32_t g = bits_of(got), r = bits_of(ref);
  if (std::isnan(ref)) return g == fm::kCanonicalNanBits ? 0 : kSpecialFail;
  if (std::isnan(got)) return kSpecialFail;
  if (std::isinf(ref) || std::isinf(got)) return g == r ? 0 : kSpecialFail;
  if (ref == 0.0f || got == 0.0f) return g == r ? 0 : kSpecialFail;  // zeros, with their sign
  const int64_t d = ordinal(got) - ordinal(ref);
  return d < 0 ? -d : d;
}

struct Stats {
  int64_t max_ulp = 0;
  uint32_t worst = 0;
  uint64_t count = 0;
  uint64_t special_fails = 0;
  uint32_t first_special = 0;
  void add(uint32_t xb, int64_t e) {
    ++count;
    if (e == kSpecialFail) {
      if (special_fails++ == 0) first_special = xb;
    } else if (e > max_ulp) {
      max_ulp = e;
      worst = xb;
    }
  }
};

struct Sweep {
  Stats s[kNumFns];
  void input(uint32_t xb) {
    const float x = float_of(xb);
    for (int f = 0; f < kNumFns; ++f) s[f].add(xb, error_of(eval_got(f, x), eval_ref(f, x)));
  }
  // `radius` ulp steps on each side of x along the ordered line (crossing zero: both +0 and -0).
  void around(float x, int radius) {
    const int64_t o = ordinal(x);
    for (int64_t k = o - radius; k <= o + radius; ++k) {
      if (k < -0x7F800000LL || k > 0x7F800000LL) continue;  // stop at +-inf
      if (k == 0) input(0x80000000u);
      input(k >= 0 ? static_cast<uint32_t>(k) : (0x80000000u | static_cast<uint32_t>(-k)));
    }
  }
  // Report the figures and assert the contract.
  void check(const std::string& label) {
    std::ostringstream os;
    os << "[fmath] " << label << ":";
    for (int f = 0; f < kNumFns; ++f)
      os << " " << kNames[f] << " max " << s[f].max_ulp << " ulp (x=" << hex(s[f].worst) << ");";
    os << " " << s[0].count << " inputs each";
    std::cout << os.str() << "\n";
    for (int f = 0; f < kNumFns; ++f) {
      const float x = float_of(s[f].worst);
      INFO(label << ": " << kNames[f] << " max " << s[f].max_ulp << " ulp at x=" << hex(s[f].worst)
                 << " (" << x << "): got " << eval_got(f, x) << ", ref " << eval_ref(f, x));
      INFO(s[f].special_fails << " special-class failures, first at x=" << hex(s[f].first_special));
      REQUIRE(s[f].special_fails == 0);
      REQUIRE(s[f].max_ulp <= 2);
    }
  }
};

}  // namespace

TEST_CASE("fmath: special inputs give exact results and canonical NaN", "[fmath]") {
  const float inf = std::numeric_limits<float>::infinity();
  const uint32_t nan_inputs[] = {0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFF800001u, 0x7FBFFFFFu,
                                 0x7FFFFFFFu, 0xFFFFFFFFu, 0x7FC00001u, 0x7FA5A5A5u, 0xFFDEADBEu};
  for (uint32_t nb : nan_inputs) {
    const float x = float_of(nb);
    INFO("NaN input " << hex(nb));
    CHECK(bits_of(fm::exp_f32(x)) == fm::kCanonicalNanBits);
    CHECK(bits_of(fm::log1p_f32(x)) == fm::kCanonicalNanBits);
    CHECK(bits_of(fm::softplus_f32(x)) == fm::kCanonicalNanBits);
    CHECK(bits_of(fm::sqrtsoftplus_f32(x)) == fm::kCanonicalNanBits);
    CHECK(bits_of(fm::sigmoid_f32(x)) == fm::kCanonicalNanBits);
    CHECK(bits_of(fm::canonicalize(x)) == fm::kCanonicalNanBits);
  }
  // log1p outside its domain.
  for (float y : {-inf, -2.0f, -1.0000001f, -std::numeric_limits<float>::max()})
    CHECK(bits_of(fm::log1p_f32(y)) == fm::kCanonicalNanBits);

  CHECK(bits_of(fm::exp_f32(0.0f)) == bits_of(1.0f));
  CHECK(bits_of(fm::exp_f32(-0.0f)) == bits_of(1.0f));
  CHECK(bits_of(fm::exp_f32(inf)) == bits_of(inf));
  CHECK(bits_of(fm::exp_f32(-inf)) == bits_of(0.0f));
  CHECK(bits_of(fm::log1p_f32(0.0f)) == bits_of(0.0f));
  CHECK(bits_of(fm::log1p_f32(-0.0f)) == bits_of(-0.0f));
  CHECK(bits_of(fm::log1p_f32(inf)) == bits_of(inf));
  CHECK(bits_of(fm::log1p_f32(-1.0f)) == bits_of(-inf));
  CHECK(bits_of(fm::softplus_f32(inf)) == bits_of(inf));
  CHECK(bits_of(fm::softplus_f32(-inf)) == bits_of(0.0f));
  CHECK(bits_of(fm::softplus_f32(20.5f)) == bits_of(20.5f));  // l itself above 20
  CHECK(bits_of(fm::softplus_f32(std::numeric_limits<float>::max())) ==
        bits_of(std::numeric_limits<float>::max()));
  CHECK(bits_of(fm::sqrtsoftplus_f32(inf)) == bits_of(inf));
  CHECK(bits_of(fm::sqrtsoftplus_f32(-inf)) == bits_of(0.0f));
  CHECK(bits_of(fm::sigmoid_f32(0.0f)) == bits_of(0.5f));
  CHECK(bits_of(fm::sigmoid_f32(-0.0f)) == bits_of(0.5f));
  CHECK(bits_of(fm::sigmoid_f32(inf)) == bits_of(1.0f));
  CHECK(bits_of(fm::sigmoid_f32(-inf)) == bits_of(0.0f));

  // Denormals are kept (no FTZ/DAZ): subnormal results stay subnormal and nonzero.
  const float denorm_min = std::numeric_limits<float>::denorm_min();
  CHECK(fm::exp_f32(-100.0f) > 0.0f);
  CHECK(fm::exp_f32(-100.0f) < std::numeric_limits<float>::min());
  CHECK(bits_of(fm::log1p_f32(denorm_min)) == bits_of(denorm_min));
  CHECK(bits_of(fm::log1p_f32(-denorm_min)) == bits_of(-denorm_min));
  CHECK(fm::softplus_f32(-100.0f) > 0.0f);
  CHECK(fm::sigmoid_f32(-100.0f) > 0.0f);
  CHECK(bits_of(fm::exp_f32(denorm_min)) == bits_of(1.0f));
}

TEST_CASE("fmath: within 2 ulp of float64 on every float class", "[fmath]") {
  Sweep all;

  SECTION("strided walk over all 2^32 bit patterns") {
    // Odd stride: ~17.8 million inputs hitting every exponent of both signs, low mantissa bits
    // varied, and the NaN/inf exponent.
    const uint64_t stride = 241;
    for (uint64_t b = 0; b < (uint64_t{1} << 32); b += stride) all.input(static_cast<uint32_t>(b));
    all.check("strided walk, stride 241");
  }

  SECTION("random patterns in every binade, both signs") {
    std::mt19937 rng(20240611u);
    std::uniform_int_distribution<uint32_t> mant(0, 0x7FFFFFu);
    for (uint32_t sign = 0; sign < 2; ++sign)
      for (uint32_t e = 0; e < 256; ++e)  // e = 0: subnormals, e = 255: inf/NaN payloads
        for (int i = 0; i < 4000; ++i) all.input((sign << 31) | (e << 23) | mant(rng));
    all.check("4000 random patterns per binade");
  }

  SECTION("ulp neighbourhoods of thresholds") {
    const float fmax = std::numeric_limits<float>::max();
    const float fmin = std::numeric_limits<float>::min();
    const float points[] = {
        0.0f,                                  // around +-0 and the subnormals nearest it
        fmin, -fmin,                           // normal/subnormal boundary of the input
        88.72283935546875f,                    // ln(FLT_MAX): exp overflow
        89.0f,                                 // exp's overflow cut-off
        -87.33654475f,                         // ln(FLT_MIN): exp goes subnormal
        -103.27893f,                           // ln(2^-149): smallest subnormal result
        -103.97208f,                           // ln(2^-150): exp underflows to 0
        -104.0f,                               // exp's underflow cut-off
        -207.94416f,                           // sqrtsoftplus underflows to 0
        20.0f, -20.0f,                         // softplus / sqrtsoftplus branches
        -16.635532f,                           // ln(2^-24): log1p(exp(l)) tiny-branch
        -1.0f,                                 // log1p pole
        0x1p-24f, -0x1p-24f, 0x1p-25f,         // log1p's small-argument branch
        0.41421356f, -0.29289322f,             // log1p: 1+y at the sqrt(2) range boundaries
        1.0f, 2.0f, 3.0f, 0x1p24f, 0x1p25f,    // log1p: error term of 1+y
        0.6931472f, -0.6931472f,               // exp: n switches 0 <-> +-1
        0.5f, 0.25f, -0.5f, 16.0f, -16.0f,     // sigmoid binade edges
        fmax, -fmax,                           // largest finite
    };
    for (float p : points) all.around(p, 3000);
    all.check("3000-ulp neighbourhoods of thresholds");
  }
}
