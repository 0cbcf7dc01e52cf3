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

// Keeps `stream` busy for `us` microseconds (one thread spinning on the global timer), so that the
// work the host enqueues behind it is all queued before the GPU reaches it: events around that
// work then time the GPU alone, not the host's launch calls (time_once_us).
void hold_stream(cudaStream_t stream, double us);

// One launch of a kernel that does nothing, `blocks` blocks of 256 threads: the launch cost a
// router's kernel pays whatever it computes (measure_graph_launch_us).
void launch_empty_kernel(cudaStream_t stream, int blocks);

}  // namespace moerouter::cuda::detail
