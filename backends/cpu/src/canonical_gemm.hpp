// The canonical GEMM (DESIGN.md §2, contract version 1): logits[n][e] = Σ over 64-element chunks,
// each chunk summed from +0.0f with fmaf in ascending k, the chunk sums added in ascending order.
// Every ISA's micro-kernel performs exactly these roundings for every output, so all give the same bits.
#pragma once
#include <cstdint>

#include "moerouter/cpu.hpp"
#include "packed_weights.hpp"

namespace moerouter::cpu {

inline constexpr int kTileRows = 4;

// One tile: kTileRows rows (x_rows[r] -> H floats) by one panel of kPanel experts.
// out[r * kPanel + j] = canonical dot(x_rows[r], expert j of the panel).
using TileKernel = void (*)(const float* const* x_rows, const float* panel, int64_t hidden, float* out);

void tile_scalar(const float* const* x_rows, const float* panel, int64_t hidden, float* out);
void tile_avx2(const float* const* x_rows, const float* panel, int64_t hidden, float* out);
void tile_avx512(const float* const* x_rows, const float* panel, int64_t hidden, float* out);

// logits [n, E] (row stride E) from fp32 rows x (row stride ldx); `threads` OpenMP threads.
void canonical_gemm(Isa isa, const PackedWeights& w, const float* x, int64_t ldx, int64_t n,
                    float* logits, int threads);

}  // namespace moerouter::cpu
