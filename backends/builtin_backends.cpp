// make_router(): registers the backends this build has (explicitly, because static libraries drop
// self-registering objects nobody references), then picks one.
#include <mutex>
#include <optional>

#include "auto_router.hpp"
#include "moerouter/cpu.hpp"
#include "moerouter/error.hpp"
#include "moerouter/registry.hpp"
#if defined(MOEROUTER_WITH_CUDA)
#include "moerouter/cuda.hpp"
#endif

namespace moerouter {

namespace {

void register_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_backend(cpu::backend());
#if defined(MOEROUTER_WITH_CUDA)
    register_backend(cuda::backend());
#endif
  });
}

std::optional<Backend> find(DeviceType type) {
  for (const auto& b : registered_backends())
    if (b.device == type) return b;
  return std::nullopt;
}

}  // namespace

bool device_available(Device device) {
  register_builtins();
  if (device == Device::Auto) return true;
  const std::optional<Backend> b = find(device == Device::Cpu ? DeviceType::Cpu : DeviceType::Cuda);
  return b && b->available();
}

std::unique_ptr<Router> make_router(const RouterConfig& cfg, Device device) {
  validate(cfg);
  register_builtins();
  if (device == Device::Auto) {
    // With a GPU: each call goes where its tensors live (AutoRouter); without: the CPU router.
    const std::optional<Backend> gpu = find(DeviceType::Cuda);
    const std::optional<Backend> cpu = find(DeviceType::Cpu);
    if (gpu && cpu && gpu->available())
      return std::make_unique<AutoRouter>(cpu->create(cfg), gpu->create(cfg));
    device = Device::Cpu;
  }
  const DeviceType type = device == Device::Cpu ? DeviceType::Cpu : DeviceType::Cuda;
  const std::optional<Backend> b = find(type);
  if (!b)
    fail_arg(ErrorCode::BackendUnavailable, "device", std::string("a backend built into this library (") +
             (type == DeviceType::Cuda ? "rebuild with MOEROUTER_CUDA=ON" : "cpu") + ")", to_string(device));
  if (!b->available())
    fail_arg(ErrorCode::BackendUnavailable, "device", "a usable CUDA device", "none found by the CUDA runtime");
  return b->create(cfg);
}

}  // namespace moerouter
