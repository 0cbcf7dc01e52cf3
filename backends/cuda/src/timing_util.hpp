// RAII owners and statistics for the benchmark timing (timing.cpp, timing_ceilings.cpp). Every
// CUDA object they create is released on every path, including exceptions.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <functional>
#include <vector>

#include "cuda_check.hpp"
#include "timing_fill.hpp"

namespace moerouter::cuda::detail {

class Event {
 public:
  Event() { check(cudaEventCreate(&e_), "cudaEventCreate"); }
  ~Event() { (void)cudaEventDestroy(e_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

class GraphExec {
 public:
  GraphExec() = default;
  explicit GraphExec(cudaGraphExec_t e) : e_(e) {}
  ~GraphExec() {
    if (e_) (void)cudaGraphExecDestroy(e_);
  }
  GraphExec(GraphExec&& o) noexcept : e_(o.e_) { o.e_ = nullptr; }
  GraphExec& operator=(GraphExec&&) = delete;
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  cudaGraphExec_t get() const { return e_; }

 private:
  cudaGraphExec_t e_ = nullptr;
};

// Captures the work `enqueue` puts on `stream` into an instantiated graph. A failure inside the
// capture ends it before rethrowing, so the stream is usable again.
GraphExec capture_graph(cudaStream_t stream, const std::function<void()>& enqueue);

class CublasHandle {
 public:
  CublasHandle() { check(cublasCreate(&h_), "cublasCreate"); }
  ~CublasHandle() { (void)cublasDestroy(h_); }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

// How long time_once_us holds the stream before the start event: longer than the host takes to
// enqueue one routed call (a few launches or one graph launch, ~5-30 us).
constexpr double kHoldUs = 150.0;

// Times one enqueued piece of work: events around it on `stream`, then waits for the second, so
// each sample is one isolated call (no overlap with the next). The stream is held first
// (hold_stream), so the events measure the GPU's time for the work: the host's launch latency,
// which a call inside an engine's CUDA graph does not pay, stays outside (tools/bench/
// torch_baseline.py times PyTorch the same way).
template <class Work>
double time_once_us(cudaStream_t stream, const Event& start, const Event& stop, Work&& work) {
  hold_stream(stream, kHoldUs);
  check(cudaEventRecord(start.get(), stream), "cudaEventRecord(start)");
  work();
  check(cudaEventRecord(stop.get(), stream), "cudaEventRecord(stop)");
  check(cudaEventSynchronize(stop.get()), "cudaEventSynchronize(stop)");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, start.get(), stop.get()), "cudaEventElapsedTime");
  return static_cast<double>(ms) * 1e3;
}

struct Summary {
  double median = 0, p10 = 0, p90 = 0;
};
// Nearest-rank percentiles of the samples (sorted in place); zeros when empty.
Summary summarize(std::vector<double>& samples);

}  // namespace moerouter::cuda::detail
