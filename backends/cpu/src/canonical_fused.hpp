// The canonical route with the epilogue fused into the GEMM's work items (large N): a thread that
// has the logits of a group of rows runs the epilogue on those rows at once, while they are still
// in its L1/L2, so there is no pass over a logits block in memory and no barrier between the GEMM
// and the epilogue. The hidden states are converted (bf16 widened) while a K block of the group is
// packed into a thread-local buffer, so there is no staging pass either.
//
// Bits: every logit is computed whole, in contract order, by one thread with the same micro-kernels
// and K blocks as canonical_gemm, and every row's epilogue is the same per-row code as
// epilogue_rows, so the outputs equal the unfused path's bit for bit at any thread count.
#pragma once
#include <cstdint>

#include "epilogue_rows.hpp"
#include "moerouter/config.hpp"
#include "moerouter/cpu.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/router.hpp"
#include "packed_weights.hpp"

namespace moerouter::cpu {

// Whether the fused route spreads `n` rows over `threads` well (enough row groups for every
// thread); smaller calls split the GEMM over expert panels instead (canonical_gemm).
bool fused_route_fits(int64_t n, int threads);

// Routes rows [0, n) of x (F32 or BF16, rows contiguous) in canonical mode: ids and weights
// [n, k], options.logits_out when set. Returns the non-finite row count and the first such row.
EpilogueSpanResult canonical_route_fused(Isa isa, const RouterConfig& cfg, const epilogue::Params& params,
                                         const PackedWeights& w, const TensorView& x,
                                         const RouteOptions& options, float* weights, int32_t* ids,
                                         int threads);

}  // namespace moerouter::cpu
