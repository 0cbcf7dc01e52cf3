// The CUDA backend (DESIGN.md §2): cuBLAS fp32/bf16 modes and an own FP32 FFMA kernel for the
// canonical mode, both followed by the shared epilogue (core/include/moerouter/epilogue.hpp) run
// on the device. This header includes no CUDA header: streams travel as void* (a cudaStream_t).
#pragma once
#include <cstdint>
#include <memory>

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
//  * without validate, RouteStats::nonfinite_rows and first_nonfinite_row are -1 (not counted:
//    counting would need a synchronization). With validate they are 0 / -1 when the call succeeds.
class CudaRouter : public Router {
 public:
  // Allocates the workspace of `stream` for calls of up to max_rows rows in every gemm mode
  // (logits, staging, cuBLAS handle and workspace). Afterwards route() on that stream with
  // N <= max_rows neither allocates nor synchronizes, so it can be captured in a CUDA graph.
  // Without reserve(), route() grows the workspace on demand (allocating, and synchronizing the
  // stream before freeing the old buffers). Thread-safe.
  virtual void reserve(int64_t max_rows, void* stream = nullptr) = 0;
  // The CUDA device this router was created on (the current device at make_router time).
  virtual int device_id() const = 0;
};

}  // namespace moerouter::cuda
