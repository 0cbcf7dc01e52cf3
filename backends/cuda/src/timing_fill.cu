#include <cuda_bf16.h>

#include "cuda_check.hpp"
#include "timing_fill.hpp"

namespace moerouter::cuda::detail {

namespace {

// A 32-bit integer hash (a murmur3-style finalizer) of index and seed: values differ from
// element to element without any state shared between threads.
__device__ uint32_t mix(uint64_t i, uint32_t seed) {
  uint32_t h = static_cast<uint32_t>(i) ^ (static_cast<uint32_t>(i >> 32) * 0x9E3779B9u) ^ seed;
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

__global__ void fill_kernel(void* dst, size_t count, bool bf16, uint32_t seed) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    // The top 24 bits as a multiple of 2^-23 in [0, 2), minus 1: exact in FP32.
    const float v = static_cast<float>(mix(i, seed) >> 8) * (1.0f / 8388608.0f) - 1.0f;
    if (bf16)
      static_cast<__nv_bfloat16*>(dst)[i] = __float2bfloat16_rn(v);
    else
      static_cast<float*>(dst)[i] = v;
  }
}

// Busy-waits until `ns` nanoseconds of the global timer have passed since the kernel started.
__global__ void hold_kernel(unsigned long long ns) {
  unsigned long long t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    __nanosleep(1000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (t - t0 < ns);
}

__global__ void empty_kernel() {}

}  // namespace

void launch_empty_kernel(cudaStream_t stream, int blocks) {
  empty_kernel<<<blocks, 256, 0, stream>>>();
  check_launch("empty_kernel");
}

void hold_stream(cudaStream_t stream, double us) {
  hold_kernel<<<1, 1, 0, stream>>>(static_cast<unsigned long long>(us * 1e3));
  check_launch("hold_kernel");
}

void fill_uniform(void* dst, size_t count, bool bf16, uint32_t seed, cudaStream_t stream) {
  if (count == 0) return;
  constexpr int kThreads = 256;
  const size_t blocks = (count + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 4096 ? blocks : 4096);  // grid-stride loop
  fill_kernel<<<grid, kThreads, 0, stream>>>(dst, count, bf16, seed);
  check_launch("fill_kernel");
}

}  // namespace moerouter::cuda::detail
