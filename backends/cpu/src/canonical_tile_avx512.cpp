// AVX-512 micro-kernel: 4 rows x 32 experts (8 zmm accumulators); per k two panel loads and four
// broadcasts feed eight FMAs. Built with -mavx512f; only called when the CPU reports it.
#include <immintrin.h>

#include "canonical_gemm.hpp"
#include "moerouter/config.hpp"

namespace moerouter::cpu {

void tile_avx512(const float* const* x_rows, const float* panel, int64_t hidden, float* out) {
  const float* x0 = x_rows[0];
  const float* x1 = x_rows[1];
  const float* x2 = x_rows[2];
  const float* x3 = x_rows[3];
  __m512 t[4][2];
  for (int64_t c0 = 0; c0 < hidden; c0 += kCanonicalChunk) {
    const int64_t c1 = c0 + kCanonicalChunk < hidden ? c0 + kCanonicalChunk : hidden;
    __m512 a00 = _mm512_setzero_ps(), a01 = _mm512_setzero_ps();
    __m512 a10 = _mm512_setzero_ps(), a11 = _mm512_setzero_ps();
    __m512 a20 = _mm512_setzero_ps(), a21 = _mm512_setzero_ps();
    __m512 a30 = _mm512_setzero_ps(), a31 = _mm512_setzero_ps();
    for (int64_t k = c0; k < c1; ++k) {
      const __m512 w0 = _mm512_load_ps(panel + k * kPanel);
      const __m512 w1 = _mm512_load_ps(panel + k * kPanel + 16);
      __m512 b = _mm512_set1_ps(x0[k]);
      a00 = _mm512_fmadd_ps(b, w0, a00);
      a01 = _mm512_fmadd_ps(b, w1, a01);
      b = _mm512_set1_ps(x1[k]);
      a10 = _mm512_fmadd_ps(b, w0, a10);
      a11 = _mm512_fmadd_ps(b, w1, a11);
      b = _mm512_set1_ps(x2[k]);
      a20 = _mm512_fmadd_ps(b, w0, a20);
      a21 = _mm512_fmadd_ps(b, w1, a21);
      b = _mm512_set1_ps(x3[k]);
      a30 = _mm512_fmadd_ps(b, w0, a30);
      a31 = _mm512_fmadd_ps(b, w1, a31);
    }
    if (c0 == 0) {
      t[0][0] = a00; t[0][1] = a01; t[1][0] = a10; t[1][1] = a11;
      t[2][0] = a20; t[2][1] = a21; t[3][0] = a30; t[3][1] = a31;
    } else {
      t[0][0] = _mm512_add_ps(t[0][0], a00); t[0][1] = _mm512_add_ps(t[0][1], a01);
      t[1][0] = _mm512_add_ps(t[1][0], a10); t[1][1] = _mm512_add_ps(t[1][1], a11);
      t[2][0] = _mm512_add_ps(t[2][0], a20); t[2][1] = _mm512_add_ps(t[2][1], a21);
      t[3][0] = _mm512_add_ps(t[3][0], a30); t[3][1] = _mm512_add_ps(t[3][1], a31);
    }
  }
  for (int r = 0; r < 4; ++r) {
    _mm512_storeu_ps(out + r * kPanel, t[r][0]);
    _mm512_storeu_ps(out + r * kPanel + 16, t[r][1]);
  }
}

}  // namespace moerouter::cpu
