// Built with -mavx512f -mfma: the loop runs only when the CPU supports AVX-512 (checked at run time);
// otherwise a scalar estimate is returned.
#include "fma_peak.hpp"

#include <chrono>

#include <immintrin.h>
#include <omp.h>

namespace moerouter::bench {

namespace {

// 12 independent accumulator chains hide the FMA latency on two FMA ports.
double avx512_loop_seconds(long iterations) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  const auto t0 = std::chrono::steady_clock::now();
  for (long it = 0; it < iterations; ++it)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  float sink = 0;
  for (int i = 0; i < 12; ++i) sink += _mm512_reduce_add_ps(a[i]);
  volatile float keep = sink;  // keeps the loop alive
  (void)keep;
  return s;
}

}  // namespace

double measure_fma_peak_gflops(int threads) {
  if (!__builtin_cpu_supports("avx512f")) return 0.0;
  const long iterations = 20'000'000;
  double total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  {
    avx512_loop_seconds(iterations / 10);  // warm-up (clock ramp)
    const double s = avx512_loop_seconds(iterations);
    total += 12.0 * 16 * 2 * iterations / s / 1e9;
  }
  return total;
}

}  // namespace moerouter::bench
