#include "canonical_gemm.hpp"

#include <algorithm>
#include <cstring>

#include <omp.h>

namespace moerouter::cpu {

namespace {
TileKernel kernel_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return tile_avx512;
    case Isa::Avx2: return tile_avx2;
    case Isa::Scalar: break;
  }
  return tile_scalar;
}
}  // namespace

void canonical_gemm(Isa isa, const PackedWeights& w, const float* x, int64_t ldx, int64_t n,
                    float* logits, int threads) {
  if (n <= 0) return;
  const TileKernel tile = kernel_for(isa);
  const int64_t E = w.experts, H = w.hidden;
  const int64_t row_tiles = (n + kTileRows - 1) / kTileRows;
  const int64_t tiles = row_tiles * w.panels;
  // Panel-major order: a thread's contiguous range of tiles reuses one panel across many rows.
  // Parallelism over panels too, so N = 1 still keeps every thread busy. Each output is computed
  // whole by one thread, so the thread count never changes a bit.
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t p = t / row_tiles;
    const int64_t rt = t % row_tiles;
    const int64_t r0 = rt * kTileRows;
    const float* rows[kTileRows];
    for (int r = 0; r < kTileRows; ++r)  // past the last row, repeat it; its results are dropped
      rows[r] = x + std::min(r0 + r, n - 1) * ldx;
    alignas(64) float out[kTileRows * kPanel];
    tile(rows, w.panel(p), H, out);
    const int64_t e0 = p * kPanel;
    const int64_t width = std::min<int64_t>(kPanel, E - e0);
    for (int r = 0; r < kTileRows && r0 + r < n; ++r)
      std::memcpy(logits + (r0 + r) * E + e0, out + r * kPanel, sizeof(float) * width);
  }
}

}  // namespace moerouter::cpu
