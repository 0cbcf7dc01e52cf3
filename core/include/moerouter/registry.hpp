// Backend registry and dispatcher, after ggml-backend: a narrow description per backend,
// `supports` so callers can skip cleanly, and make_router() choosing among what is registered.
#pragma once
#include <memory>
#include <string_view>
#include <vector>

#include "moerouter/router.hpp"

namespace moerouter {

enum class Device { Auto, Cpu, Cuda };

struct Backend {
  const char* name;                                         // "cpu", "cuda"
  DeviceType device;
  bool (*available)();                                      // built and (for GPUs) a device present
  std::unique_ptr<Router> (*create)(const RouterConfig&);   // config already validated
};

// Adds a backend (idempotent per name). The built-in ones are registered by make_router's first use.
void register_backend(const Backend& backend);
std::vector<Backend> registered_backends();

// Auto: CUDA when built and a device is present, else CPU. Throws BackendUnavailable otherwise.
std::unique_ptr<Router> make_router(const RouterConfig& cfg, Device device = Device::Auto);
// Whether make_router(cfg, device) would succeed without throwing BackendUnavailable.
bool device_available(Device device);

Device parse_device(std::string_view s);  // "auto" | "cpu" | "cuda"
const char* to_string(Device d) noexcept;

}  // namespace moerouter
