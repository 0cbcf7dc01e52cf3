// Per-stream workspaces of a CUDA router.
//
// Why per stream: route() is asynchronous, so its scratch (the logits, the staged x, the error flag,
// the cuBLAS handle bound to the stream) is in use until the stream gets there. Work on one stream
// runs in order, so all calls on a stream can share one workspace; calls on different streams run
// concurrently and must not. A pool keyed by stream gives that without allocating per call, which
// keeps route() free of allocation and synchronization once the workspace is large enough (CUDA
// graph capture needs both). cudaStreamPerThread is a different stream in every host thread behind
// one handle value, so its key includes the thread id. A workspace's mutex is held for a whole
// route() call: host threads sharing a stream then enqueue whole calls, never interleaved halves.
// Workspaces live as long as the router (one per stream ever used; see reserve()).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "cuda_check.hpp"

namespace moerouter::cuda::detail {

// Rows of x staged (converted) at once for cuBLAS when x's dtype differs from the GEMM's inputs.
inline constexpr int64_t kStageRows = 1024;

struct Workspace {
  std::mutex mutex;        // held for a whole route() on this workspace
  cudaStream_t stream = nullptr;
  int64_t rows = 0;        // capacity of `logits` in rows (x E floats)
  int64_t stage_rows = 0;  // capacity of `staging` in rows (x H floats)
  DeviceArray logits, staging, flag, cublas_workspace;
  DeviceArray layout;      // (kMaxExperts + 1) int64: dispatch-layout offsets scratch
  // The canonical split's chunk sums (canonical_tiled.hpp): kCanonicalSplitBytes once a call (or
  // reserve) of a size that may split asked for it; empty otherwise (the split is then skipped).
  DeviceArray canonical_split;
  // Small device counters, zeroed when allocated: nonfinite() = EpilogueArgs::nonfinite (zeroed
  // again by each call that counts), grid_counter() = FusedRouteArgs::grid_counter (left zero by
  // every kernel that uses it).
  DeviceArray counters;
  unsigned long long* nonfinite() const { return counters.as<unsigned long long>(); }
  unsigned int* grid_counter() const { return reinterpret_cast<unsigned int*>(counters.as<unsigned long long>() + 2); }
  cublasHandle_t cublas = nullptr;

  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace();

  // Whether a call of `rows` rows fits without allocating.
  bool fits(int64_t rows, bool need_stage, bool need_cublas) const;
  // Grows to fit (synchronizing the stream before old buffers are freed). Throws
  // InvalidArgument when `capturing` and the workspace does not fit: allocation cannot be captured.
  // `want_split`: allocate the canonical split's scratch if missing — except while capturing, where
  // its absence only means the call runs without the split.
  void ensure(int64_t rows, bool need_stage, bool need_cublas, bool want_split, bool capturing, int64_t experts,
              int64_t hidden);
};

class WorkspacePool {
 public:
  // The workspace of `stream` (created empty on first use). Never invalidated while the pool lives.
  Workspace& get(cudaStream_t stream);
  void clear();

 private:
  using Key = std::pair<cudaStream_t, std::thread::id>;
  std::mutex mutex_;
  std::map<Key, std::unique_ptr<Workspace>> map_;
};

}  // namespace moerouter::cuda::detail
