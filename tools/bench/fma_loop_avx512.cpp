// Compiled with -mavx512f -mfma (bench_support.cmake); run only after __builtin_cpu_supports.
#include <immintrin.h>

#include "fma_loops.hpp"

namespace moerouter::bench::detail {

float fma_loop_avx512(long iterations) {
  __m512 a[kFmaChains];
  for (int i = 0; i < kFmaChains; ++i) a[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  // a * m + c with m just below 1 stays bounded and normal: no denormal or overflow slow paths.
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it)
    for (int i = 0; i < kFmaChains; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  // Stored and summed by hand: GCC 12's _mm512_reduce_add_ps trips -Wuninitialized in its header.
  alignas(64) float lanes[16];
  float sink = 0;
  for (int i = 0; i < kFmaChains; ++i) {
    _mm512_store_ps(lanes, a[i]);
    for (float v : lanes) sink += v;
  }
  return sink;
}

}  // namespace moerouter::bench::detail
