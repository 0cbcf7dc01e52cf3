// CUDA/cuBLAS return codes -> moerouter::Error. Every runtime and cuBLAS call in this backend goes
// through one of these, so a failure always names the call that failed and the runtime's reason.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace moerouter::cuda::detail {

// cudaErrorMemoryAllocation -> ErrorCode::OutOfMemory, anything else -> ErrorCode::CudaError with
// "<what>: <cudaGetErrorName>: <cudaGetErrorString>". Clears the thread's last-error state first,
// so a later cudaGetLastError() does not report the same failure twice.
void check(cudaError_t status, const char* what);
// CUBLAS_STATUS_ALLOC_FAILED -> OutOfMemory, anything else -> CudaError.
void check(cublasStatus_t status, const char* what);
// After a kernel launch: a bad configuration shows up in cudaGetLastError().
void check_launch(const char* kernel);

// Makes `device` current for a scope and restores the caller's device afterwards (a library call
// must not change the caller's current device).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
  bool switched_ = false;
};

// Owning device allocation (cudaMalloc/cudaFree). Freeing synchronizes implicitly (cudaFree).
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t bytes, const char* what);
  ~DeviceArray();
  DeviceArray(DeviceArray&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; o.bytes_ = 0; }
  DeviceArray& operator=(DeviceArray&& o) noexcept;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  void* get() const { return ptr_; }
  template <class T> T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace moerouter::cuda::detail
