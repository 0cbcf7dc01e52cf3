// Launchers of this backend's kernels (defined in the .cu files). Plain host declarations so the
// router's C++ code never needs the CUDA compiler.
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

#include "moerouter/epilogue.hpp"

namespace moerouter::cuda::detail {

// x [n, H] on the device, F32 or BF16 (raw bits), row stride `ld` elements, unit inner stride.
struct XView {
  const void* data;
  bool bf16;
  int64_t ld;
};

// ---- canonical GEMM (canonical_gemm.cu) -------------------------------------------------------
// Which kernel computes the canonical logits. Both give identical bits (the contract fixes every
// rounding); they differ only in how the work is spread over the GPU.
enum class CanonicalKernel {
  Auto,    // SplitK for n <= canonical_splitk_max_rows(), else Tiled
  SplitK,  // small n: 64-chunks spread over threads, chunk sums added in order
  Tiled,   // large n: register-tiled, each thread owns 4x4 outputs and walks k
};
inline constexpr int64_t kSplitKMaxRows = 64;
// The rows up to which Auto takes SplitK: kSplitKMaxRows, or MOEROUTER_CANONICAL_SPLITK_MAX_ROWS
// (an integer 0..2^20, read once per process) so the crossover can be re-measured on any device.
int64_t canonical_splitk_max_rows();

// logits [n, E] (row stride E) = canonical dot products of x rows with w rows (w [E, H] F32).
// Returns the kernel that ran.
CanonicalKernel canonical_gemm(CanonicalKernel which, XView x, const float* w, int64_t n,
                               int64_t experts, int64_t hidden, float* logits, cudaStream_t stream);

// Test hook (moerouter_cuda_testing): forces a kernel for every later canonical call in the
// process; Auto restores the size-based choice.
void set_canonical_override(CanonicalKernel which);
CanonicalKernel canonical_override();

// ---- staging for cuBLAS (epilogue_kernels.cu) ------------------------------------------------
// rows x H elements of x starting at row r0 -> dense [rows, H]: F32 (exact widening of bf16 x)
// when to_bf16 is false, bf16 bits (round to nearest even, NaN kept quiet, as core's
// float_to_bf16) when true.
void stage_x(XView x, int64_t r0, int64_t rows, int64_t hidden, bool to_bf16, void* out,
             cudaStream_t stream);

// ---- epilogue (epilogue_kernels.cu) ----------------------------------------------------------
struct EpilogueArgs {
  float* logits;            // [n, E] workspace; overwritten with the activations
  int64_t n;
  epilogue::Params params;  // bias is a device pointer or nullptr
  float* weights_out;       // [n, k]
  int32_t* ids_out;         // [n, k]
  float* logits_out;        // [n, E] or nullptr: canonicalized copy of the logits
  void* counts;             // [E] or nullptr; zeroed by the caller, incremented here
  bool counts_i64;
  const void* token_ids;    // [n] or nullptr (hash routing)
  bool token_ids_i64;
  const void* hash_table;   // [vocab, k] (contiguous)
  bool hash_table_i64;
  // [2] on the device, or nullptr: rows with a NaN/inf logit are counted, [0] += 1 per such row,
  // [1] = max(~row) over them (so ~[1] is the first one; the caller zeroes both first).
  unsigned long long* nonfinite;
  // Screen the activations (activation_screen.cuh) in the standalone warp epilogue: the exact
  // activation only for experts that can reach the top k. Same bits either way by construction
  // (checked against the CPU on the GPU by the [cuda] suite with it on and off).
  bool screen;
  // Group-limited rows with groups of exactly 32 experts take the register path (warp_group_slots
  // in epilogue_device.cuh) instead of the list path. Same bits by construction (tested on an
  // emulated warp in CI and, on and off, by the [cuda] suite).
  bool group_registers;
};
// Which epilogue runs (epilogue_kernels.cu explains both; they give identical bits).
enum class EpilogueKernel {
  Auto,   // Warp
  Fused,  // one row per thread does everything
  Split,  // activations in parallel, then one row per thread selects
  Warp,   // activations in parallel, then one warp per row selects
};
// activate_row, select_topk (or the hash table), gather_weights for every row. Returns the
// version that ran.
EpilogueKernel epilogue(const EpilogueArgs& args, cudaStream_t stream);
// Test hook (moerouter_cuda_testing): forces a version process-wide; Auto restores the default.
void set_epilogue_override(EpilogueKernel which);
bool epilogue_overridden();  // a version other than Auto is forced
// Whether later calls screen activations (default true; test hook of moerouter_cuda_testing). The
// router copies it into EpilogueArgs::screen.
void set_activation_screen(bool on);
bool activation_screen_on();
// Likewise for EpilogueArgs::group_registers (default true).
void set_group_registers(bool on);
bool group_registers_on();

// Value checks before anything is written: *first_bad is lowered (atomicMin) to the smallest row
// that fails, so the caller sets it to ~0ull first and reads it back (a synchronization).
void find_nonfinite_row(const float* logits, int64_t n, int64_t experts,
                        unsigned long long* first_bad, cudaStream_t stream);
void find_bad_hash_row(const void* token_ids, bool token_ids_i64, const void* hash_table,
                       bool hash_table_i64, int64_t vocab, int64_t n, int top_k, int64_t experts,
                       unsigned long long* first_bad, cudaStream_t stream);

// ---- fused routers: GEMM and epilogue in one launch ---------------------------------------------
// (decode_route.cu for small n, bf16_fused.cu for the bf16 tensor-core router.) What both need:
struct FusedRouteArgs {
  XView x;
  int64_t n, experts, hidden;
  const float* w_f32;          // [E, H] fp32 weights (exact copy of what set_weights got)
  const uint16_t* w_bf16;      // [E, H] bf16 weights (core's float_to_bf16 of the fp32 ones)
  EpilogueArgs epi;            // epi.logits = the workspace's [n, E] floats, free to use as scratch
  unsigned int* grid_counter;  // zero on entry; a kernel that uses it must leave it zero again
};

}  // namespace moerouter::cuda::detail
