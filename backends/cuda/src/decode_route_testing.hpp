// Test and benchmark hooks of the decode router, in plain C++ (no CUDA header), so the Catch2 suite
// (compiled without the CUDA include path) and the benchmark harness can call it on device
// pointers they own. Not installed; not part of the router's interface.
#pragma once
#include <cstdint>
#include <string>

#include "moerouter/config.hpp"
#include "moerouter/epilogue.hpp"

namespace moerouter::cuda::detail {

// Everything FusedRouteArgs holds, as plain pointers (device memory) plus the stream.
struct DecodeTestCall {
  GemmMode mode = GemmMode::Canonical;
  const void* x = nullptr;
  bool x_bf16 = false;
  int64_t ld = 0;
  int64_t n = 0, experts = 0, hidden = 0;
  const float* w_f32 = nullptr;
  const uint16_t* w_bf16 = nullptr;
  bool w_bf16_exact = false;  // decode_route's flag: W's values are bf16 values
  epilogue::Params params{};  // params.bias: device pointer or nullptr
  float* logits_ws = nullptr;  // [n, E] scratch
  float* weights_out = nullptr;
  int32_t* ids_out = nullptr;
  float* logits_out = nullptr;
  void* counts = nullptr;
  bool counts_i64 = false;
  const void* token_ids = nullptr;
  bool token_ids_i64 = false;
  const void* hash_table = nullptr;
  bool hash_table_i64 = false;
  unsigned long long* nonfinite = nullptr;
  unsigned int* grid_counter = nullptr;
  void* stream = nullptr;  // cudaStream_t
};

bool decode_route_supports_hook(GemmMode mode, int64_t n, int64_t experts, int64_t hidden);
void decode_route_hook(const DecodeTestCall& c);  // decode_route on these pointers

// Forces the tiling of later calls (benchmark sweeps); 0 = the automatic choice for that field.
struct DecodeTiling {
  int rows_per_block = 0;     // rows of x per block (1..16)
  int experts_per_block = 0;  // experts per block
  int smem_budget = 0;        // bytes of shared memory a block may use for its slices
};
void set_decode_tiling(const DecodeTiling& t);
// Benchmark breakdown: while set, every block's thread 0 writes %globaltimer stamps (ns) at
// trace[block * kDecodeTraceSlots + i]: 0 start, 1 first slice staged, 2 first slice's chains done,
// 3 all slices done, 4 outputs written, 5 counter bumped; in the last block only: 8 tail entered,
// 7 its first row's loads about to issue, 9 that row in registers (register path) or in shared
// memory (list path), 6 tail done. Slots never written stay as the caller left them. nullptr turns
// it off.
inline constexpr int kDecodeTraceSlots = 16;
void set_decode_trace(unsigned long long* device_buffer);
void decode_grid(int64_t n, int64_t experts, int64_t hidden, int* gx, int* gy);
// The tiling a call of this shape gets, in words (grid, slices, shared memory).
std::string decode_plan_string(GemmMode mode, int64_t n, int64_t experts, int64_t hidden);

}  // namespace moerouter::cuda::detail
