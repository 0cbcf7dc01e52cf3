// One value per CUDA device, computed on first use for the current device and kept for the
// process: device attributes, occupancy and per-kernel plans cost driver calls that a launch path
// should not repeat on every call. Thread-safe; `make(device)` runs once per device, under the lock.
#pragma once
#include <memory>
#include <mutex>
#include <vector>

#include <cuda_runtime.h>

#include "cuda_check.hpp"

namespace moerouter::cuda::detail {

template <class T>
class PerDeviceCache {
 public:
  template <class Make>
  const T& get(Make&& make) {
    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t slot = static_cast<size_t>(device);
    if (slot >= values_.size()) values_.resize(slot + 1);
    if (!values_[slot]) values_[slot] = std::make_unique<T>(make(device));
    return *values_[slot];
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<T>> values_;  // pointers: a returned reference survives a resize
};

}  // namespace moerouter::cuda::detail
