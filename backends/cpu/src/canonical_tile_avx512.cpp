// AVX-512 micro-kernel: up to 8 rows x 32 experts (16 zmm accumulators: enough independent chains
// to cover the FMA latency on two ports); per k two panel loads (bf16 panels widened exactly in
// registers) and one broadcast per row feed 2 FMAs per row.
// Built with -mavx512f; only called when the CPU reports it.
#include <immintrin.h>

#include "canonical_gemm.hpp"
#include "moerouter/config.hpp"

// Every loop over rows and vectors is fully unrolled (#pragma GCC unroll) so the accumulator
// arrays live in registers; without it GCC -O2 keeps them in memory (load-FMA-store per row).
namespace moerouter::cpu {

namespace {

template <bool kBf16>
inline __m512 load16(const void* panel, int64_t index) {
  if constexpr (kBf16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(panel) + index));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));  // exact widening
  } else {
    return _mm512_load_ps(static_cast<const float*>(panel) + index);
  }
}

template <int R, bool kBf16>
void tile(const float* const* x, const void* panel, int64_t k0, int64_t k1, float* totals, int64_t ldt) {
  __m512 t[R][2];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    // A fresh output (k0 == 0) has no running total yet; its first chunk sum will become it.
    t[r][0] = k0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(totals + r * ldt);
    t[r][1] = k0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(totals + r * ldt + 16);
  }
  for (int64_t c0 = k0; c0 < k1; c0 += kCanonicalChunk) {
    const int64_t c1 = c0 + kCanonicalChunk < k1 ? c0 + kCanonicalChunk : k1;
    __m512 a[R][2];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) a[r][0] = a[r][1] = _mm512_setzero_ps();
    for (int64_t k = c0; k < c1; ++k) {
      const __m512 w0 = load16<kBf16>(panel, k * kPanel);
      const __m512 w1 = load16<kBf16>(panel, k * kPanel + 16);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 b = _mm512_set1_ps(x[r][k - k0]);
        a[r][0] = _mm512_fmadd_ps(b, w0, a[r][0]);
        a[r][1] = _mm512_fmadd_ps(b, w1, a[r][1]);
      }
    }
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      t[r][0] = c0 == 0 ? a[r][0] : _mm512_add_ps(t[r][0], a[r][0]);
      t[r][1] = c0 == 0 ? a[r][1] : _mm512_add_ps(t[r][1], a[r][1]);
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_ps(totals + r * ldt, t[r][0]);
    _mm512_storeu_ps(totals + r * ldt + 16, t[r][1]);
  }
}

template <bool kBf16>
void dispatch_rows(const float* const* x, int rows, const void* panel, int64_t k0, int64_t k1, float* totals,
                   int64_t ldt) {
  switch (rows) {
    case 1: tile<1, kBf16>(x, panel, k0, k1, totals, ldt); return;
    case 2: tile<2, kBf16>(x, panel, k0, k1, totals, ldt); return;
    case 3: tile<3, kBf16>(x, panel, k0, k1, totals, ldt); return;
    case 4: tile<4, kBf16>(x, panel, k0, k1, totals, ldt); return;
    case 5: tile<5, kBf16>(x, panel, k0, k1, totals, ldt); return;
    case 6: tile<6, kBf16>(x, panel, k0, k1, totals, ldt); return;
    case 7: tile<7, kBf16>(x, panel, k0, k1, totals, ldt); return;
    default: tile<8, kBf16>(x, panel, k0, k1, totals, ldt); return;
  }
}

}  // namespace

void tile_avx512(const float* const* x_rows, int rows, const void* panel, bool bf16, int64_t k0,
                 int64_t k1, float* totals, int64_t ldt) {
  if (bf16) dispatch_rows<true>(x_rows, rows, panel, k0, k1, totals, ldt);
  else dispatch_rows<false>(x_rows, rows, panel, k0, k1, totals, ldt);
}

}  // namespace moerouter::cpu
