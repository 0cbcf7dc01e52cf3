// Pseudo-random fill of benchmark operands (timing_fill.cu). GEMM speed and power draw depend on
// the data (zeros let the GPU hold higher clocks), so ceilings are measured on random values.
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace moerouter::cuda::detail {

// count values uniform in [-1, 1): FP32, or BF16 bits (round to nearest even) when bf16 is true.
// A pure function of (index, seed). Asynchronous on `stream`.
void fill_uniform(void* dst, size_t count, bool bf16, uint32_t seed, cudaStream_t stream);

}  // namespace moerouter::cuda::detail
