// The shared epilogue over a block of rows, compiled once per ISA (the same source, see
// epilogue_rows.inl): with -mfma the fmaf calls in the math become single instructions instead of
// glibc's software fmaf (about 3x faster here). Every operation is IEEE-exact either way (fmaf,
// sqrt, + - * / are correctly rounded; -ffp-contract=off forbids new fusions), so each ISA writes
// the same bits.
#pragma once
#include <cstdint>

#include "moerouter/cpu.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/router.hpp"

namespace moerouter::cpu {

struct EpilogueBlock {
  const float* logits;        // [rows, E]
  int64_t rows;
  int64_t first_row;          // index of the block's first row in the call
  const RouteOptions* options;  // token_ids / hash_table for hash routing
  float* weights;             // [rows, k] (already offset to the block)
  int32_t* ids;               // [rows, k]
  float* act_scratch;         // [threads, E]
  char* group_scratch;        // [threads, G]
  int threads;
};

// Returns the number of rows with non-finite logits.
int64_t epilogue_rows(Isa isa, const RouterConfig& cfg, const epilogue::Params& params,
                      const EpilogueBlock& block);

int64_t epilogue_rows_scalar(const RouterConfig&, const epilogue::Params&, const EpilogueBlock&);
int64_t epilogue_rows_avx2(const RouterConfig&, const epilogue::Params&, const EpilogueBlock&);
int64_t epilogue_rows_avx512(const RouterConfig&, const epilogue::Params&, const EpilogueBlock&);

// The epilogue of a few rows on the calling thread (no OpenMP), for the fused GEMM + epilogue: the
// rows' logits are still in cache. Also writes options->logits_out (canonicalized) when set.
struct EpilogueSpan {
  const float* logits;          // [rows, ld], E used per row
  int64_t ld;
  int64_t rows;
  int64_t first_row;            // index of the span's first row in the call
  const RouteOptions* options;
  float* weights;               // [n, k] of the whole call (not offset)
  int32_t* ids;                 // [n, k]
  float* act;                   // [E] scratch of this thread
  bool* flags;                  // [G] scratch of this thread
};
struct EpilogueSpanResult {
  int64_t nonfinite = 0;        // rows with non-finite logits
  int64_t first_nonfinite = -1; // the first of them (call row index), -1 if none
};

EpilogueSpanResult epilogue_span(Isa isa, const RouterConfig& cfg, const epilogue::Params& params,
                                 const EpilogueSpan& span);
EpilogueSpanResult epilogue_span_scalar(const RouterConfig&, const epilogue::Params&, const EpilogueSpan&);
EpilogueSpanResult epilogue_span_avx2(const RouterConfig&, const epilogue::Params&, const EpilogueSpan&);
EpilogueSpanResult epilogue_span_avx512(const RouterConfig&, const epilogue::Params&, const EpilogueSpan&);

}  // namespace moerouter::cpu
