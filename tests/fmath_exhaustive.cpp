// fmath_exhaustive: every one of the 2^32 float inputs through each epilogue function of
// moerouter/fmath.hpp, against float64 evaluated with libm and rounded to float (DESIGN.md §2).
// Prints per function the max ulp error, the lowest input reaching it, a histogram, and the number
// of special-class failures (a NaN other than 0x7FC00000, a NaN/inf/zero where the reference has a
// different one). Exit status 1 when any function exceeds 2 ulp or fails a special class.
//
//   cmake --build <build> --target fmath_exhaustive && <build>/tests/fmath_exhaustive [names...]
//
// names: any of exp log1p softplus sqrtsoftplus sigmoid (default: all). About 30-90 s per
// function on 2 cores.
#include "moerouter/fmath.hpp"
#include "support/float_bits.hpp"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

namespace fm = moerouter::fmath;

using moerouter::testing::bits_of;
using moerouter::testing::float_of;
using moerouter::testing::ordinal;

double ref_softplus(double l) { return l > 20.0 ? l : std::log1p(std::exp(l)); }
double ref_sigmoid(double l) {
  if (l >= 0.0) return 1.0 / (1.0 + std::exp(-l));
  const double e = std::exp(l);
  return e / (1.0 + e);
}

struct Fn {
  const char* name;
  float (*got)(float);
  double (*ref)(double);
};
const Fn kFns[] = {
    {"exp", [](float x) { return fm::exp_f32(x); }, [](double x) { return std::exp(x); }},
    {"log1p", [](float x) { return fm::log1p_f32(x); }, [](double x) { return std::log1p(x); }},
    {"softplus", [](float x) { return fm::softplus_f32(x); }, ref_softplus},
    {"sqrtsoftplus", [](float x) { return fm::sqrtsoftplus_f32(x); },
     [](double x) { return std::sqrt(ref_softplus(x)); }},
    {"sigmoid", [](float x) { return fm::sigmoid_f32(x); }, ref_sigmoid},
};

constexpr int64_t kSpecialFail = int64_t{1} << 40;

// ulp distance, or kSpecialFail when a NaN/inf/zero does not match exactly.
int64_t error_of(float got, float ref) {
  const uint32_t g = bits_of(got), r = bits_of(ref);
  if (std::isnan(ref)) return g == fm::kCanonicalNanBits ? 0 : kSpecialFail;
  if (std::isnan(got)) return kSpecialFail;
  if (std::isinf(ref) || std::isinf(got)) return g == r ? 0 : kSpecialFail;
  if (ref == 0.0f || got == 0.0f) return g == r ? 0 : kSpecialFail;  // zeros, with their sign
  const int64_t d = ordinal(got) - ordinal(ref);
  return d < 0 ? -d : d;
}

}  // namespace

int main(int argc, char** argv) {
  int rc = 0;
  for (const Fn& fn : kFns) {
    if (argc > 1) {
      bool wanted = false;
      for (int a = 1; a < argc; ++a) wanted = wanted || std::string(argv[a]) == fn.name;
      if (!wanted) continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    int64_t max_ulp = 0;
    uint32_t worst = 0;
    uint64_t hist[4] = {0, 0, 0, 0};  // 0, 1, 2, >2 ulp
    uint64_t special_fails = 0;
    uint32_t first_special = 0;
#pragma omp parallel
    {
      int64_t my_max = 0;
      uint32_t my_worst = 0;
      uint64_t my_hist[4] = {0, 0, 0, 0};
      uint64_t my_special = 0;
      uint32_t my_first_special = 0;
#pragma omp for schedule(static)
      for (int64_t i = 0; i < (int64_t{1} << 32); ++i) {
        const float x = float_of(static_cast<uint32_t>(i));
        const float ref = static_cast<float>(fn.ref(static_cast<double>(x)));
        const int64_t e = error_of(fn.got(x), ref);
        if (e == kSpecialFail) {
          if (my_special++ == 0) my_first_special = static_cast<uint32_t>(i);
          continue;
        }
        ++my_hist[e > 3 ? 3 : e];
        if (e > my_max) {
          my_max = e;
          my_worst = static_cast<uint32_t>(i);
        }
      }
#pragma omp critical
      {
        for (int k = 0; k < 4; ++k) hist[k] += my_hist[k];
        if (my_max > max_ulp || (my_max == max_ulp && my_worst < worst)) {
          max_ulp = my_max;
          worst = my_worst;
        }
        if (my_special != 0 && (special_fails == 0 || my_first_special < first_special))
          first_special = my_first_special;
        special_fails += my_special;
      }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const float x = float_of(worst);
    std::printf("%-13s max_ulp=%lld at x=0x%08x (%.9g): got %.9g, ref %.9g | ulp histogram "
                "0:%llu 1:%llu 2:%llu >2:%llu | special-class failures %llu",
                fn.name, static_cast<long long>(max_ulp), worst, x, fn.got(x),
                static_cast<float>(fn.ref(x)), static_cast<unsigned long long>(hist[0]),
                static_cast<unsigned long long>(hist[1]), static_cast<unsigned long long>(hist[2]),
                static_cast<unsigned long long>(hist[3]),
                static_cast<unsigned long long>(special_fails));
    if (special_fails != 0) std::printf(" (first at x=0x%08x)", first_special);
    std::printf(" | %.1f s, %d threads\n", secs, omp_get_max_threads());
    std::fflush(stdout);
    if (max_ulp > 2 || special_fails != 0) rc = 1;
  }
  return rc;
}
