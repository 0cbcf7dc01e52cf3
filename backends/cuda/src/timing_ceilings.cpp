// The ceilings a benchmark row is judged against (cuda.hpp, "Benchmarking"): copy bandwidth and
// the cuBLAS SGEMM / BF16 GEMM rates of the current device, and the time of a graph replay of an
// empty kernel, measured in the same process.
#include <algorithm>
#include <cstdint>
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

constexpr int kWarmups = 2;
constexpr int kReps = 10;
constexpr int kLaunchWarmups = 20;
constexpr int kLaunchReps = 300;

// Median of kReps isolated timings of `work` after kWarmups untimed runs.
template <class Work>
double median_us(cudaStream_t stream, Work&& work) {
  for (int i = 0; i < kWarmups; ++i) work();
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(warm-up)");
  Event start, stop;
  std::vector<double> samples;
  for (int i = 0; i < kReps; ++i) samples.push_back(detail::time_once_us(stream, start, stop, work));
  return detail::summarize(samples).median;
}

// C [m, m] = A [m, m] · B [m, m] with cuBLAS, FP32 compute; bf16 selects BF16 inputs (GemmEx).
// The operands are random (timing_fill.hpp), C is FP32 either way.
double gemm_tflops(bool bf16) {
  constexpr int m = 8192;
  const size_t elems = size_t{m} * m;
  const size_t in_size = bf16 ? 2 : 4;
  const Stream owned;
  const auto stream = static_cast<cudaStream_t>(owned.get());
  DeviceArray a(elems * in_size, "GEMM ceiling operand A");
  DeviceArray b(elems * in_size, "GEMM ceiling operand B");
  DeviceArray c(elems * sizeof(float), "GEMM ceiling result C");
  detail::fill_uniform(a.get(), elems, bf16, 1, stream);
  detail::fill_uniform(b.get(), elems, bf16, 2, stream);
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(fill)");

  const detail::CublasHandle handle;
  check(cublasSetStream(handle.get(), stream), "cublasSetStream");
  // No TF32 for the FP32 GEMM: the ceiling of the fp32/canonical modes is true FP32.
  check(cublasSetMathMode(handle.get(), CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  const float one = 1.0f, zero = 0.0f;
  const double us = median_us(stream, [&] {
    if (bf16)
      check(cublasGemmEx(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, m, m, m, &one, a.get(), CUDA_R_16BF, m,
                         b.get(), CUDA_R_16BF, m, &zero, c.get(), CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx(bf16 ceiling)");
    else
      check(cublasSgemm(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, m, m, m, &one, a.as<float>(), m,
                        b.as<float>(), m, &zero, c.as<float>(), m),
            "cublasSgemm(ceiling)");
  });
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(GEMM ceiling)");
  const double flops = 2.0 * m * double{m} * m;
  return flops / (us * 1e-6) / 1e12;
}

}  // namespace

double measure_copy_bandwidth_gbs() {
  size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  // 1 GiB each way: far beyond any L2, long enough (~0.7 ms on H100) for event resolution.
  const size_t bytes = std::min<size_t>(size_t{1} << 30, free_bytes / 4) & ~size_t{255};
  if (bytes < (size_t{64} << 20))  // below that the L2 and event resolution would dominate
    fail(ErrorCode::OutOfMemory, "copy-bandwidth ceiling: expected 256 MiB of free device memory, got ",
         free_bytes >> 20, " MiB");
  const Stream owned;
  const auto stream = static_cast<cudaStream_t>(owned.get());
  DeviceArray src(bytes, "copy-bandwidth source");
  DeviceArray dst(bytes, "copy-bandwidth destination");
  check(cudaMemsetAsync(src.get(), 0x5A, bytes, stream), "cudaMemsetAsync(copy source)");
  const double us = median_us(stream, [&] {
    check(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, stream),
          "cudaMemcpyAsync(copy bandwidth)");
  });
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(copy bandwidth)");
  return 2.0 * static_cast<double>(bytes) / (us * 1e-6) / 1e9;  // read + write
}

double measure_graph_launch_us() {
  int device = 0, sms = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  const Stream owned;
  const auto stream = static_cast<cudaStream_t>(owned.get());
  const detail::GraphExec graph =
      detail::capture_graph(stream, [&] { detail::launch_empty_kernel(stream, std::max(sms, 1)); });
  const auto replay = [&] { check(cudaGraphLaunch(graph.get(), stream), "cudaGraphLaunch(empty kernel)"); };
  for (int i = 0; i < kLaunchWarmups; ++i) replay();
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(warm-up)");
  Event start, stop;
  std::vector<double> samples;  // many: each is a few µs, and the median of 10 would wander
  for (int i = 0; i < kLaunchReps; ++i) samples.push_back(detail::time_once_us(stream, start, stop, replay));
  return detail::summarize(samples).median;
}

double measure_sgemm_tflops() { return gemm_tflops(false); }
double measure_bf16_gemm_tflops() { return gemm_tflops(true); }

}  // namespace moerouter::cuda
