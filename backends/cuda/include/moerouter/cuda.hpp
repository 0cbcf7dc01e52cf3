// The CUDA backend (DESIGN.md §2): cuBLAS fp32/bf16 modes and an own FP32 FFMA kernel for the
// canonical mode, both followed by the shared epilogue (core/include/moerouter/epilogue.hpp) run
// on the device. This header includes no CUDA header: streams travel as void* (a cudaStream_t).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "moerouter/registry.hpp"

namespace moerouter::cuda {

// Registry entry (make_router registers it). available() is device_present().
const Backend& backend();

// True when the CUDA runtime reports at least one device (cudaGetDeviceCount > 0, no error).
bool device_present();

// The CUDA router's extra surface. make_router(cfg, Device::Cuda) returns one of these; reach it
// with dynamic_cast<cuda::CudaRouter*>(router.get()).
//
// route() takes device pointers (TensorView::device == DeviceType::Cuda, device_id == this
// router's device) and RouteOptions::stream (a cudaStream_t; nullptr = the legacy default stream).
// It is asynchronous: outputs are ready when the stream reaches the end of the call. Exceptions:
//  * validate = true and hash routing read a small error flag back to the host, so those calls
//    synchronize the stream (and cannot be captured into a CUDA graph);
//  * RouteStats::nonfinite_rows and first_nonfinite_row are -1 (not counted: reporting them needs
//    a synchronization) unless RouteOptions::sync_stats = true, which counts them on the device and
//    synchronizes the stream at the end of the call. With validate they are 0 / -1 when the call
//    succeeds (it throws otherwise).
class CudaRouter : public Router {
 public:
  // Allocates the workspace of `stream` for calls of up to max_rows rows in every gemm mode
  // (logits, staging, cuBLAS handle and workspace; above 64 rows also the 64 MiB of chunk sums of
  // the canonical split for mid-size N). Afterwards route() on that stream with
  // N <= max_rows neither allocates nor synchronizes, so it can be captured in a CUDA graph.
  // Without reserve(), route() grows the workspace on demand (allocating, and synchronizing the
  // stream before freeing the old buffers). Thread-safe.
  virtual void reserve(int64_t max_rows, void* stream = nullptr) = 0;
  // The CUDA device this router was created on (the current device at make_router time).
  virtual int device_id() const = 0;
};

// ---- Benchmarking (`moerouter bench --device cuda`, timing.cpp) --------------------------------
// Timing lives here because nothing outside backends/cuda includes CUDA headers.

// An owned CUDA stream (non-blocking with respect to the legacy default stream) on the current
// device. Time on one stream for many calls: the router keeps a workspace per stream it has seen,
// and the stream must outlive every router that used it (declare it before them).
class Stream {
 public:
  Stream();
  ~Stream();  // synchronizes, then destroys
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void* get() const noexcept { return stream_; }  // a cudaStream_t

 private:
  void* stream_ = nullptr;
};

struct TimingOptions {
  void* stream = nullptr;   // required: a Stream on the router's device (capture needs a real stream)
  bool graph = false;       // time replays of CUDA graphs captured from route() (small N)
  double min_time_s = 0.5;  // keep timing until this much wall-clock time has passed...
  int min_reps = 10;        // ...and at least this many repetitions were timed
  int reps = 0;             // > 0: exactly this many repetitions instead
};

struct TimingResult {
  double us_median = 0, us_p10 = 0, us_p90 = 0;  // per call, from CUDA events
  int reps = 0;                // repetitions timed
  int input_buffers = 0;       // rotating copies of x on the device
  bool graph = false;          // graph replays were timed
  const char* kernel = "";     // RouteStats::kernel of the timed calls
};

// Times router.route() on host_x ([N, H] host memory, F32 or BF16, N >= 1) in `mode`.
//  * x is uploaded once and copied to `input_buffers` device buffers whose total exceeds the L2
//    (about 100 MB); repetition r reads buffer r % count, so x comes from device memory as in a
//    model. With graphs the count is capped at 256 (one graph per buffer): at N <= 64 x is under
//    1 MB per call while W stays L2-resident in every mode either way.
//  * Outputs go to device buffers; the workspace is reserved for N, so route() neither allocates
//    nor synchronizes; a few warm-up calls run first.
//  * Each repetition is bracketed by CUDA events and waited for (as the PyTorch baseline in
//    tools/bench/torch_baseline.py does), so a time includes the launch gaps a lone call pays.
//    With graph = true one graph per buffer is captured and replays are timed (no copy into a
//    static input: each graph reads its own buffer).
TimingResult time_route(CudaRouter& router, const TensorView& host_x, GemmMode mode,
                        const TimingOptions& options);

// Ceilings of the current device, each the median of several timed runs:
// device-to-device cudaMemcpy of 1 GiB (or less when memory is short), counted as bytes read plus
// bytes written, in GB/s.
double measure_copy_bandwidth_gbs();
// cuBLAS SGEMM 8192^3 (FP32 in/out/compute, CUBLAS_DEFAULT_MATH: no TF32), in TFLOP/s.
double measure_sgemm_tflops();
// cuBLAS GemmEx 8192^3, BF16 inputs, FP32 output and compute, in TFLOP/s.
double measure_bf16_gemm_tflops();
// The floor of a lone graph-replayed call, in µs: a CUDA graph of one kernel that does nothing (one
// block of 256 threads per SM), timed as time_route times graph replays (events around one
// launch on a held stream). No router call timed that way can take less.
double measure_graph_launch_us();
// cuBLAS alone on a router's GEMM shape: logits [n, E] = x [n, H] · W [E, H]ᵀ, SGEMM (FP32, no
// TF32) or, with bf16, GemmEx with BF16 inputs and FP32 accumulation; random operands, x rotating
// past the L2, each call timed alone with CUDA events for at least min_time_s; median in µs. The
// reference of "fp32 mode <= 1.08x SGEMM alone" and "canonical <= 1.15x SGEMM".
double time_gemm_alone_us(int64_t n, int64_t experts, int64_t hidden, bool bf16, void* stream,
                          double min_time_s);
// The current device's name (cudaDeviceProp::name), e.g. "NVIDIA H100 80GB HBM3".
std::string device_name();

}  // namespace moerouter::cuda
