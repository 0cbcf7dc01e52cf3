// The fast tiled canonical GEMM (canonical_tiled.cu): cp.async-pipelined 64-deep k tiles, 8x8 (or
// smaller) register tiles per thread. Same contract and bits as every other canonical kernel
// (DESIGN.md §2); it only needs aligned operands, and the caller falls back to the generic tiled
// kernel (canonical_gemm.cu) when it declines.
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels.hpp"

namespace moerouter::cuda::detail {

// Block tiles (rows x experts) the fast kernel can use; 256 threads each, 16 x 16.
enum class TiledShape { Auto = -1, R128E128 = 0, R128E96, R128E64, R64E128, R64E64, Count };

// Scratch for the split (canonical_tiled.cu: chunks spread over segments when the tiles alone
// leave SMs idle, later chunk sums stored and added in order by a second kernel). The router's
// workspace holds kCanonicalSplitBytes of it for calls of canonical_splitk_max_rows() < n <=
// kCanonicalSplitMaxRows.
struct CanonicalSplitScratch {
  float* partials = nullptr;  // nullptr: no split
  size_t floats = 0;
};
inline constexpr size_t kCanonicalSplitBytes = size_t{64} << 20;
inline constexpr int64_t kCanonicalSplitMaxRows = 4096;
inline bool canonical_split_wanted(int64_t n) {
  return n > canonical_splitk_max_rows() && n <= kCanonicalSplitMaxRows;
}

// How the fast kernel ran.
enum class TiledRun { Declined, Tiled, Split };

// Computes logits [n, E] when the shapes allow 16-byte loads: H % 4 == 0 (f32 x) or H % 8 == 0
// (bf16 x), x.ld likewise, x and w 16-byte aligned. Returns Declined, launching nothing, otherwise.
// `shape` forces a block tile (benchmarks and tests; no split); Auto picks the one that fills the
// GPU best, and the split when `split` has room and the tiles alone would leave most SMs idle.
TiledRun canonical_tiled_fast(XView x, const float* w, int64_t n, int experts, int hidden, float* logits,
                              cudaStream_t stream, TiledShape shape = TiledShape::Auto,
                              const CanonicalSplitScratch& split = {});

// canonical_gemm (kernels.hpp) with the split's scratch; *split_used tells whether it ran.
CanonicalKernel canonical_gemm_with_split(CanonicalKernel which, XView x, const float* w, int64_t n,
                                          int64_t experts, int64_t hidden, float* logits, cudaStream_t stream,
                                          const CanonicalSplitScratch& split, bool* split_used);

// The tile Auto picks for this problem on the current device (for reports).
TiledShape canonical_tiled_pick(int64_t n, int experts, bool bf16);
const char* tiled_shape_name(TiledShape shape);
// Pipeline depth and resident blocks per SM of a tile on the current device (0, 0: not usable).
void canonical_tiled_plan(TiledShape shape, bool bf16, int* stages, int* blocks_per_sm);

}  // namespace moerouter::cuda::detail
