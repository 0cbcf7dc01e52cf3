// AVX2+FMA micro-kernel: 2 rows x 32 experts per pass (8 ymm accumulators), run twice per tile.
// Built with -mavx2 -mfma; only called when the CPU reports both.
#include <immintrin.h>

#include "canonical_gemm.hpp"
#include "moerouter/config.hpp"

namespace moerouter::cpu {

namespace {
void two_rows(const float* x0, const float* x1, const float* panel, int64_t hidden, float* out0,
              float* out1) {
  __m256 t0[4], t1[4];
  for (int64_t c0 = 0; c0 < hidden; c0 += kCanonicalChunk) {
    const int64_t c1 = c0 + kCanonicalChunk < hidden ? c0 + kCanonicalChunk : hidden;
    __m256 a0[4], a1[4];
    for (int v = 0; v < 4; ++v) a0[v] = a1[v] = _mm256_setzero_ps();
    for (int64_t k = c0; k < c1; ++k) {
      const float* wk = panel + k * kPanel;
      const __m256 b0 = _mm256_set1_ps(x0[k]);
      const __m256 b1 = _mm256_set1_ps(x1[k]);
      for (int v = 0; v < 4; ++v) {
        const __m256 w = _mm256_load_ps(wk + 8 * v);
        a0[v] = _mm256_fmadd_ps(b0, w, a0[v]);
        a1[v] = _mm256_fmadd_ps(b1, w, a1[v]);
      }
    }
    for (int v = 0; v < 4; ++v) {
      t0[v] = c0 == 0 ? a0[v] : _mm256_add_ps(t0[v], a0[v]);
      t1[v] = c0 == 0 ? a1[v] : _mm256_add_ps(t1[v], a1[v]);
    }
  }
  for (int v = 0; v < 4; ++v) {
    _mm256_storeu_ps(out0 + 8 * v, t0[v]);
    _mm256_storeu_ps(out1 + 8 * v, t1[v]);
  }
}
}  // namespace

void tile_avx2(const float* const* x_rows, const float* panel, int64_t hidden, float* out) {
  two_rows(x_rows[0], x_rows[1], panel, hidden, out, out + kPanel);
  two_rows(x_rows[2], x_rows[3], panel, hidden, out + 2 * kPanel, out + 3 * kPanel);
}

}  // namespace moerouter::cpu
