// Hand-run check that the shared epilogue math compiles (and, on a GPU, agrees bit for bit with the
// host build) in device code. Not wired into CMake. Compile only:
//   nvcc -std=c++17 --fmad=false -I core/include -c tests/cuda_compile_check/fmath_device.cu \
//        -gencode=arch=compute_90a,code=sm_90a -o /tmp/fmath_device.o
// On a machine with a GPU, build the self-check (host side under the same contract flags):
//   nvcc -std=c++17 --fmad=false -Xcompiler -ffp-contract=off,-fopenmp -DFMATH_DEVICE_MAIN \
//        -I core/include tests/cuda_compile_check/fmath_device.cu \
//        -gencode=arch=compute_90a,code=sm_90a -o fmd
//   ./fmd            # sweeps all 2^32 inputs of every function, host vs device bits
#include "moerouter/fmath.hpp"

#include <cstdint>

namespace fm = moerouter::fmath;

// One output per function per input; inputs are consecutive bit patterns starting at `base`.
__global__ void fmath_kernel(uint32_t base, uint32_t n, uint32_t* out) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = fm::from_bits(base + i);
  out[0 * n + i] = fm::to_bits(fm::exp_f32(x));
  out[1 * n + i] = fm::to_bits(fm::log1p_f32(x));
  out[2 * n + i] = fm::to_bits(fm::softplus_f32(x));
  out[3 * n + i] = fm::to_bits(fm::sqrtsoftplus_f32(x));
  out[4 * n + i] = fm::to_bits(fm::sigmoid_f32(x));
}

#if defined(FMATH_DEVICE_MAIN)
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

int main() {
  const char* names[5] = {"exp_f32", "log1p_f32", "softplus_f32", "sqrtsoftplus_f32", "sigmoid_f32"};
  const uint32_t n = 1u << 26;  // inputs per launch
  uint32_t* d_out = nullptr;
  if (cudaMalloc(&d_out, 5ull * n * sizeof(uint32_t)) != cudaSuccess) return 2;
  std::vector<uint32_t> h(5ull * n);
  unsigned long long mismatches[5] = {0, 0, 0, 0, 0};
  long long first[5] = {-1, -1, -1, -1, -1};
  for (uint64_t base = 0; base < (1ull << 32); base += n) {
    fmath_kernel<<<n / 256, 256>>>(static_cast<uint32_t>(base), n, d_out);
    if (cudaMemcpy(h.data(), d_out, h.size() * sizeof(uint32_t), cudaMemcpyDeviceToHost) !=
        cudaSuccess)
      return 3;
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < static_cast<long long>(n); ++i) {
      const uint32_t bits = static_cast<uint32_t>(base + i);
      const float x = fm::from_bits(bits);
      const uint32_t r[5] = {fm::to_bits(fm::exp_f32(x)), fm::to_bits(fm::log1p_f32(x)),
                             fm::to_bits(fm::softplus_f32(x)), fm::to_bits(fm::sqrtsoftplus_f32(x)),
                             fm::to_bits(fm::sigmoid_f32(x))};
      for (int f = 0; f < 5; ++f) {
        if (r[f] != h[f * static_cast<uint64_t>(n) + i]) {
#pragma omp critical
          {
            if (mismatches[f]++ == 0 || static_cast<long long>(bits) < first[f]) first[f] = bits;
          }
        }
      }
    }
  }
  int rc = 0;
  for (int f = 0; f < 5; ++f) {
    std::printf("%-17s host/device mismatches over 2^32 inputs: %llu", names[f], mismatches[f]);
    if (mismatches[f] != 0) {
      std::printf(" (lowest input bits 0x%08llx)", first[f]);
      rc = 1;
    }
    std::printf("\n");
  }
  cudaFree(d_out);
  return rc;
}
#endif
