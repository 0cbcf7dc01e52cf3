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

// Computes logits [n, E] when the shapes allow 16-byte loads: H % 4 == 0 (f32 x) or H % 8 == 0
// (bf16 x), x.ld likewise, x and w 16-byte aligned. Returns false, launching nothing, otherwise.
// `shape` forces a block tile (benchmarks and tests); Auto picks the one that fills the GPU best.
bool canonical_tiled_fast(XView x, const float* w, int64_t n, int experts, int hidden, float* logits,
                          cudaStream_t stream, TiledShape shape = TiledShape::Auto);

// The tile Auto picks for this problem on the current device (for reports).
TiledShape canonical_tiled_pick(int64_t n, int experts, bool bf16);
const char* tiled_shape_name(TiledShape shape);
// Pipeline depth and resident blocks per SM of a tile on the current device (0, 0: not usable).
void canonical_tiled_plan(TiledShape shape, bool bf16, int* stages, int* blocks_per_sm);

}  // namespace moerouter::cuda::detail
