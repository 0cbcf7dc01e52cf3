// cuBLAS alone on a router's exact GEMM shape (cuda.hpp, "Benchmarking"): the reference the issue's
// targets are stated against ("fp32 mode <= 1.08x cuBLAS SGEMM alone", "canonical <= 1.15x").
#include <algorithm>
#include <vector>

#include "cuda_check.hpp"
#include "moerouter/cuda.hpp"
#include "moerouter/error.hpp"
#include "timing_fill.hpp"
#include "timing_util.hpp"

namespace moerouter::cuda {

namespace {

using detail::check;
using detail::DeviceArray;
using detail::Event;

// x copies rotate past the L2 as in time_route, so x comes from device memory.
constexpr size_t kRotationBytes = size_t{100} << 20;
constexpr int kMaxBuffers = 256;

}  // namespace

double time_gemm_alone_us(int64_t n, int64_t experts, int64_t hidden, bool bf16, void* stream_handle,
                          double min_time_s) {
  if (n < 1 || experts < 1 || hidden < 1)
    fail_arg(ErrorCode::InvalidArgument, "time_gemm_alone_us shape", "n, experts, hidden >= 1",
             std::to_string(n) + ", " + std::to_string(experts) + ", " + std::to_string(hidden));
  const auto stream = static_cast<cudaStream_t>(stream_handle);
  const size_t in_size = bf16 ? 2 : 4;
  const size_t x_elems = static_cast<size_t>(n * hidden), w_elems = static_cast<size_t>(experts * hidden);
  const size_t x_bytes = x_elems * in_size;
  size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  size_t count = std::min<size_t>(kMaxBuffers, std::max<size_t>(2, (kRotationBytes + x_bytes - 1) / x_bytes));
  while (count > 2 && count * x_bytes > free_bytes / 2) --count;

  DeviceArray x(count * x_bytes, "GEMM-alone x copies");
  DeviceArray w(w_elems * in_size, "GEMM-alone W");
  DeviceArray c(static_cast<size_t>(n * experts) * sizeof(float), "GEMM-alone logits");
  detail::fill_uniform(x.get(), count * x_elems, bf16, 11, stream);
  detail::fill_uniform(w.get(), w_elems, bf16, 12, stream);

  const detail::CublasHandle handle;
  check(cublasSetStream(handle.get(), stream), "cublasSetStream");
  check(cublasSetMathMode(handle.get(), CUBLAS_DEFAULT_MATH), "cublasSetMathMode");  // no TF32
  const float one = 1.0f, zero = 0.0f;
  // Row-major logits [n, E] = x [n, H] · W [E, H]ᵀ, as the router calls it (cublas_gemm.cpp).
  const auto gemm = [&](size_t i) {
    const char* xi = x.as<char>() + i * x_bytes;
    const int E = static_cast<int>(experts), N = static_cast<int>(n), H = static_cast<int>(hidden);
    if (bf16)
      check(cublasGemmEx(handle.get(), CUBLAS_OP_T, CUBLAS_OP_N, E, N, H, &one, w.get(), CUDA_R_16BF, H, xi,
                         CUDA_R_16BF, H, &zero, c.get(), CUDA_R_32F, E, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx(GEMM alone)");
    else
      check(cublasSgemm(handle.get(), CUBLAS_OP_T, CUBLAS_OP_N, E, N, H, &one, w.as<float>(), H,
                        reinterpret_cast<const float*>(xi), H, &zero, c.as<float>(), E),
            "cublasSgemm(GEMM alone)");
  };
  for (size_t i = 0; i < 3; ++i) gemm(i % count);
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(GEMM-alone warm-up)");
  Event start, stop;
  std::vector<double> samples;
  double elapsed_us = 0;
  for (size_t rep = 0; rep < 10 || elapsed_us < min_time_s * 1e6; ++rep) {
    samples.push_back(detail::time_once_us(stream, start, stop, [&] { gemm(rep % count); }));
    elapsed_us += samples.back() + 10;  // + a launch's host time, so tiny GEMMs still end
    if (rep >= 100000) break;
  }
  return detail::summarize(samples).median;
}

}  // namespace moerouter::cuda
