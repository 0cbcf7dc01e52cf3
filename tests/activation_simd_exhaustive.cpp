// activation_simd_exhaustive: every one of the 2^32 float inputs through each AVX-512 activation
// function, compared bit for bit with the scalar function it mirrors (moerouter/fmath.hpp and
// epilogue::exp_of_difference for a few values of the row max b). Prints per function the number
// of differing inputs and the first one; exit status 1 when any differs (or without AVX-512F).
//
//   cmake --build <build> --target activation_simd_exhaustive && <build>/tests/activation_simd_exhaustive [names...]
//
// names: any of exp log1p softplus sqrtsoftplus sigmoid expdiff (default: all). The scalar side is
// this TU's copy of the header code (built without -mfma: glibc's fmaf), so it is also a check
// across compilations.
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "../backends/cpu/src/activate_avx512.hpp"
#include "moerouter/cpu.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/fmath.hpp"
#include "support/float_bits.hpp"

namespace {

namespace fm = moerouter::fmath;
namespace cpu = moerouter::cpu;

using moerouter::testing::bits_of;
using moerouter::testing::float_of;
using moerouter::testing::ordinal;

struct Sweep {
  std::string name;
  float b;  // exp_of_difference's second operand
  float (*scalar)(float, float);
  void (*simd)(const float*, float, int64_t, float*);
};

template <float (*F)(float)>
float unary(float x, float) { return F(x); }
template <void (*F)(const float*, int64_t, float*)>
void unary_simd(const float* in, float, int64_t n, float* out) { F(in, n, out); }

float expf_(float x) { return fm::exp_f32(x); }
float log1pf_(float x) { return fm::log1p_f32(x); }
float softplusf_(float x) { return fm::softplus_f32(x); }
float sqrtsoftplusf_(float x) { return fm::sqrtsoftplus_f32(x); }
float sigmoidf_(float x) { return fm::sigmoid_f32(x); }
float expdiff_(float a, float b) { return moerouter::epilogue::exp_of_difference(a, b); }

}  // namespace

int main(int argc, char** argv) {
  if (!cpu::isa_supported(cpu::Isa::Avx512)) {
    std::printf("this CPU has no AVX-512F\n");
    return 1;
  }
  const Sweep sweeps[] = {
      {"exp", 0, unary<expf_>, unary_simd<cpu::exp_f32_avx512>},
      {"log1p", 0, unary<log1pf_>, unary_simd<cpu::log1p_f32_avx512>},
      {"softplus", 0, unary<softplusf_>, unary_simd<cpu::softplus_f32_avx512>},
      {"sqrtsoftplus", 0, unary<sqrtsoftplusf_>, unary_simd<cpu::sqrtsoftplus_f32_avx512>},
      {"sigmoid", 0, unary<sigmoidf_>, unary_simd<cpu::sigmoid_f32_avx512>},
      {"expdiff", 0.0f, expdiff_, cpu::exp_of_difference_avx512},
      {"expdiff", 2.5f, expdiff_, cpu::exp_of_difference_avx512},
      {"expdiff", 88.0f, expdiff_, cpu::exp_of_difference_avx512},
      {"expdiff", -100.0f, expdiff_, cpu::exp_of_difference_avx512},
  };
  constexpr int64_t kBlock = 4096;
  int rc = 0;
  for (const Sweep& s : sweeps) {
    if (argc > 1) {
      bool wanted = false;
      for (int a = 1; a < argc; ++a) wanted = wanted || s.name == argv[a];
      if (!wanted) continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t bad = 0;
    uint32_t first = 0;
#pragma omp parallel
    {
      float in[kBlock], want[kBlock], got[kBlock];
      uint64_t my_bad = 0;
      uint32_t my_first = 0;
#pragma omp for schedule(static)
      for (int64_t blk = 0; blk < (int64_t{1} << 32) / kBlock; ++blk) {
        for (int64_t i = 0; i < kBlock; ++i) {
          in[i] = float_of(static_cast<uint32_t>(blk * kBlock + i));
          want[i] = s.scalar(in[i], s.b);
        }
        s.simd(in, s.b, kBlock, got);
        if (std::memcmp(want, got, sizeof want) != 0)
          for (int64_t i = 0; i < kBlock; ++i)
            if (bits_of(want[i]) != bits_of(got[i]) && my_bad++ == 0) my_first = bits_of(in[i]);
      }
#pragma omp critical
      {
        if (my_bad != 0 && (bad == 0 || my_first < first)) first = my_first;
        bad += my_bad;
      }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-13s", s.name.c_str());
    if (s.name == "expdiff") std::printf(" b=%-6g", s.b);
    std::printf(" %llu of 2^32 inputs differ", static_cast<unsigned long long>(bad));
    if (bad != 0) {
      const float x = float_of(first);
      std::printf(" (first x=0x%08x %.9g: scalar 0x%08x, avx512 ", first, x, bits_of(s.scalar(x, s.b)));
      float g;
      s.simd(&x, s.b, 1, &g);
      std::printf("0x%08x)", bits_of(g));
      rc = 1;
    }
    std::printf(" | %.1f s, %d threads\n", secs, omp_get_max_threads());
    std::fflush(stdout);
  }
  return rc;
}
