// AVX2+FMA micro-kernel: up to 2 rows x 32 experts per pass (8 ymm accumulators).
// Built with -mavx2 -mfma; only called when the CPU reports both.
#include <immintrin.h>

#include "canonical_gemm.hpp"
#include "moerouter/config.hpp"

// Every loop over rows and vectors is fully unrolled (#pragma GCC unroll) so the accumulator
// arrays live in registers; without it GCC -O2 keeps them in memory (load-FMA-store per row).
namespace moerouter::cpu {

namespace {

template <bool kBf16>
inline __m256 load8(const void* panel, int64_t index) {
  if constexpr (kBf16) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(panel) + index));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));  // exact widening
  } else {
    return _mm256_loadu_ps(static_cast<const float*>(panel) + index);
  }
}

template <int R, bool kBf16>
void pass(const float* const* x, const void* panel, int64_t k0, int64_t k1, float* totals, int64_t ldt) {
  __m256 t[R][4];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int v = 0; v < 4; ++v)  // a fresh output (k0 == 0) has no running total yet
      t[r][v] = k0 == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(totals + r * ldt + 8 * v);
  for (int64_t c0 = k0; c0 < k1; c0 += kCanonicalChunk) {
    const int64_t c1 = c0 + kCanonicalChunk < k1 ? c0 + kCanonicalChunk : k1;
    __m256 a[R][4];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 8
      for (int v = 0; v < 4; ++v) a[r][v] = _mm256_setzero_ps();
    for (int64_t k = c0; k < c1; ++k) {
      __m256 w[4];
      #pragma GCC unroll 8
      for (int v = 0; v < 4; ++v) w[v] = load8<kBf16>(panel, k * kPanel + 8 * v);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256 b = _mm256_set1_ps(x[r][k - k0]);
        #pragma GCC unroll 8
        for (int v = 0; v < 4; ++v) a[r][v] = _mm256_fmadd_ps(b, w[v], a[r][v]);
      }
    }
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 8
      for (int v = 0; v < 4; ++v) t[r][v] = c0 == 0 ? a[r][v] : _mm256_add_ps(t[r][v], a[r][v]);
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int v = 0; v < 4; ++v) _mm256_storeu_ps(totals + r * ldt + 8 * v, t[r][v]);
}

template <bool kBf16>
void rows_in_pairs(const float* const* x, int rows, const void* panel, int64_t k0, int64_t k1, float* totals,
                   int64_t ldt) {
  for (int r = 0; r < rows; r += 2) {
    if (rows - r >= 2) pass<2, kBf16>(x + r, panel, k0, k1, totals + r * ldt, ldt);
    else pass<1, kBf16>(x + r, panel, k0, k1, totals + r * ldt, ldt);
  }
}

}  // namespace

void tile_avx2(const float* const* x_rows, int rows, const void* panel, bool bf16, int64_t k0,
               int64_t k1, float* totals, int64_t ldt) {
  if (bf16) rows_in_pairs<true>(x_rows, rows, panel, k0, k1, totals, ldt);
  else rows_in_pairs<false>(x_rows, rows, panel, k0, k1, totals, ldt);
}

}  // namespace moerouter::cpu
