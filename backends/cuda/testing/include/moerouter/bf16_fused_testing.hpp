// Direct access to the fused bf16 router kernel (backends/cuda/src/bf16_fused.cu) for the tests,
// which are plain C++: device pointers travel as void* / typed pointers, no CUDA header here.
// Part of moerouter_cuda_testing; not installed.
#pragma once
#include <cstdint>

#include "moerouter/epilogue.hpp"

namespace moerouter::cuda_testing {

struct Bf16FusedCall {
  const void* x = nullptr;  // [n, H] on the device, F32 or BF16 bits, row stride ld elements
  bool x_bf16 = true;
  int64_t ld = 0, n = 0, experts = 0, hidden = 0;
  const uint16_t* w_bf16 = nullptr;  // [E, H] bf16 bits on the device
  epilogue::Params params{};         // params.bias: a device pointer or nullptr
  float* weights_out = nullptr;      // [n, k]
  int32_t* ids_out = nullptr;        // [n, k]
  float* logits_out = nullptr;       // [n, E] or nullptr
  void* counts = nullptr;            // [E] int32 (zeroed by the caller) or nullptr
  unsigned long long* nonfinite = nullptr;  // [2] (zeroed by the caller) or nullptr
  int block_rows = 0;  // 0 = the route's choice (wgmma for BF16 x), 64 / 128 = mma.sync, that block
};

// Whether the kernel can run these shapes on the current device (an sm_90 GPU).
bool bf16_fused_can_run(int64_t experts, int64_t hidden, const void* x, bool x_bf16, int64_t ld);
// Runs it on the legacy default stream and waits.
void run_bf16_fused(const Bf16FusedCall& call);

}  // namespace moerouter::cuda_testing
