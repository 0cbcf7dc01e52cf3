// Top-k selection for the CPU epilogue: the same ids, in the same order, as epilogue::select_topk,
// found faster with SIMD. The selection is unique under the total order epilogue::ranks_above
// (value, then index; NaN last), so any method that returns the k best under that order writes
// the same ids. The SIMD versions scan the experts in ascending index order in vectors and keep
// the running k best with the shared epilogue::insert_ranked; once k are held, a whole vector is
// compared against the k-th best at once and only the lanes that can beat it are inserted.
//
// Only declarations here: this header is included by translation units built without -mavx2 or
// -mavx512f. Callers must check cpu::isa_supported(isa).
#pragma once
#include <cstdint>

#include "moerouter/cpu.hpp"
#include "moerouter/epilogue.hpp"

namespace moerouter::cpu {

// Same contract as epilogue::select_topk (group_flags: scratch of p.groups bools).
void select_topk_avx2(const float* act, const epilogue::Params& p, bool* group_flags, int32_t* ids_out);
void select_topk_avx512(const float* act, const epilogue::Params& p, bool* group_flags, int32_t* ids_out);

// Dispatch: Scalar is epilogue::select_topk itself.
void select_topk(Isa isa, const float* act, const epilogue::Params& p, bool* group_flags, int32_t* ids_out);

}  // namespace moerouter::cpu
