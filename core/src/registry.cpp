#include "moerouter/registry.hpp"

#include <cstring>
#include <mutex>

#include "moerouter/error.hpp"

namespace moerouter {

namespace {
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<Backend>& registry() {
  static std::vector<Backend> backends;
  return backends;
}
}  // namespace

void register_backend(const Backend& backend) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (auto& b : registry())
    if (std::strcmp(b.name, backend.name) == 0) {
      b = backend;
      return;
    }
  registry().push_back(backend);
}

std::vector<Backend> registered_backends() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  return registry();
}

Device parse_device(std::string_view s) {
  if (s == "auto") return Device::Auto;
  if (s == "cpu") return Device::Cpu;
  if (s == "cuda") return Device::Cuda;
  fail_arg(ErrorCode::InvalidArgument, "device", "auto, cpu or cuda", "'" + std::string(s) + "'");
}

const char* to_string(Device d) noexcept {
  switch (d) {
    case Device::Auto: return "auto";
    case Device::Cpu: return "cpu";
    case Device::Cuda: return "cuda";
  }
  return "unknown";
}

}  // namespace moerouter
