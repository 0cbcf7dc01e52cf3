// Registry entry and device detection.
#include <cuda_runtime.h>

#include <mutex>

#include "cuda_router.hpp"
#include "moerouter/cuda.hpp"

namespace moerouter::cuda {

bool device_present() {
  // The answer cannot change within a process (devices are enumerated once by the runtime).
  static const bool present = [] {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) (void)cudaGetLastError();  // e.g. no driver: not an error for callers
    return status == cudaSuccess && count > 0;
  }();
  return present;
}

namespace {
bool available() { return device_present(); }
std::unique_ptr<Router> create(const RouterConfig& cfg) {
  return std::make_unique<detail::CudaRouterImpl>(cfg);
}
}  // namespace

const Backend& backend() {
  static const Backend b{"cuda", DeviceType::Cuda, &available, &create};
  return b;
}

}  // namespace moerouter::cuda
