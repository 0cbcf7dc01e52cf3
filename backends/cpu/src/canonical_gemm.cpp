#include "canonical_gemm.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include <omp.h>

namespace moerouter::cpu {

namespace {

// Rows per work item and k per block: a block's slice of a panel (256 x 32 fp32 = 32 KiB, half
// that in bf16) stays in L1 while the item's row tiles stream past it; a row group's x slice
// (64 x 256 x 4 = 64 KiB) stays in L2.
constexpr int kGroupRows = 64;
// Below this many rows a call is bound by streaming W, so bf16 panels (when present) are used.
constexpr int64_t kBf16PanelMaxRows = 16;
constexpr int64_t kBlockK = 256;
static_assert(kBlockK % kCanonicalChunk == 0, "K blocks must hold whole chunks");

}  // namespace

TileKernel tile_kernel_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return tile_avx512;
    case Isa::Avx2: return tile_avx2;
    case Isa::Scalar: break;
  }
  return tile_scalar;
}

void canonical_gemm(Isa isa, const PackedWeights& w, const float* x, int64_t ldx, int64_t n,
                    float* logits, int threads) {
  if (n <= 0) return;
  const TileKernel tile = tile_kernel_for(isa);
  const int64_t E = w.experts, H = w.hidden;
  const int64_t groups = (n + kGroupRows - 1) / kGroupRows;
  const bool bf16 = w.has_bf16_panels() && n <= kBf16PanelMaxRows;
  // Work items are (group of up to 64 rows, span of panels). With many row groups an item spans
  // every panel, so its x slice (64 rows x one K block) stays in L2 while all of W streams past
  // once per item; with few row groups (small N) an item is one panel, so N = 1 still keeps every
  // thread busy. Each output is computed whole, in contract order, by one thread, so neither the
  // thread count nor the schedule changes a bit.
  const int64_t span = groups >= 2 * threads ? w.panels : 1;
  const int64_t spans = (w.panels + span - 1) / span;
  const int64_t items = groups * spans;
#pragma omp parallel num_threads(threads)
  {
    static thread_local std::vector<float> totals_storage;
    if (totals_storage.size() < static_cast<size_t>(kGroupRows * kPanel * span))
      totals_storage.resize(static_cast<size_t>(kGroupRows * kPanel * span));
    float* totals = totals_storage.data();
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t p_begin = (item / groups) * span;
      const int64_t p_end = std::min(w.panels, p_begin + span);
      const int64_t r_begin = (item % groups) * kGroupRows;
      const int64_t r_end = std::min(n, r_begin + kGroupRows);
      for (int64_t k0 = 0; k0 < H; k0 += kBlockK) {
        const int64_t k1 = std::min(H, k0 + kBlockK);
        for (int64_t p = p_begin; p < p_end; ++p) {
          const void* panel = w.panel(p, bf16);  // kernels index it by absolute k
          float* panel_totals = totals + (p - p_begin) * kGroupRows * kPanel;
          for (int64_t r0 = r_begin; r0 < r_end; r0 += kTileRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kTileRows, r_end - r0));
            const float* x_rows[kTileRows];
            for (int r = 0; r < kTileRows; ++r) x_rows[r] = x + std::min(r0 + r, n - 1) * ldx + k0;
            tile(x_rows, rows, panel, bf16, k0, k1, panel_totals + (r0 - r_begin) * kPanel, kPanel);
          }
        }
      }
      for (int64_t p = p_begin; p < p_end; ++p) {
        const int64_t e0 = p * kPanel;
        const int64_t width = std::min<int64_t>(kPanel, E - e0);
        const float* panel_totals = totals + (p - p_begin) * kGroupRows * kPanel;
        for (int64_t r = r_begin; r < r_end; ++r)
          std::memcpy(logits + r * E + e0, panel_totals + (r - r_begin) * kPanel, sizeof(float) * width);
      }
    }
  }
}

}  // namespace moerouter::cpu
