// The canonical GEMM (DESIGN.md §2, contract version 1): logits[n][e] = Σ over 64-element chunks,
// each chunk summed from +0.0f with fmaf in ascending k, the chunk sums added in ascending order.
// Every ISA's micro-kernel performs exactly these roundings for every output, so all give the same
// bits; the K range may be split into blocks because the running total is carried in memory between
// blocks and chunk sums are still added in ascending order.
#pragma once
#include <cstdint>

#include "moerouter/cpu.hpp"
#include "packed_weights.hpp"

namespace moerouter::cpu {

inline constexpr int kTileRows = 8;

// Rows r < `rows` (1..kTileRows) against one panel of kPanel experts, over k in [k0, k1) where k0
// is a multiple of 64: x_rows[r][k - k0] is x[r][k] (the caller may hand a packed copy of just
// that K range), the panel is indexed by absolute k. The chunk sums of the range are added in
// order to totals[r * ldt + j]; the chunk starting at k = 0 initializes the total instead.
using TileKernel = void (*)(const float* const* x_rows, int rows, const void* panel, bool bf16,
                            int64_t k0, int64_t k1, float* totals, int64_t ldt);

void tile_scalar(const float* const* x_rows, int rows, const void* panel, bool bf16, int64_t k0,
                 int64_t k1, float* totals, int64_t ldt);
void tile_avx2(const float* const* x_rows, int rows, const void* panel, bool bf16, int64_t k0,
               int64_t k1, float* totals, int64_t ldt);
void tile_avx512(const float* const* x_rows, int rows, const void* panel, bool bf16, int64_t k0,
                 int64_t k1, float* totals, int64_t ldt);
TileKernel tile_kernel_for(Isa isa);

// logits [n, E] (row stride E) from fp32 rows x (row stride ldx); `threads` OpenMP threads.
void canonical_gemm(Isa isa, const PackedWeights& w, const float* x, int64_t ldx, int64_t n,
                    float* logits, int threads);

}  // namespace moerouter::cpu
