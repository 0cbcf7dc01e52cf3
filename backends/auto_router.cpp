#include "auto_router.hpp"

#include "moerouter/error.hpp"

namespace moerouter {

AutoRouter::AutoRouter(std::unique_ptr<Router> cpu, std::unique_ptr<Router> cuda)
    : cpu_(std::move(cpu)), cuda_(std::move(cuda)) {}

void AutoRouter::set_weights(TensorView weight, std::optional<TensorView> bias) {
  // Both backends accept host weights; device-resident weights can only feed the CUDA router,
  // so they are copied to the host once for the CPU one.
  if (weight.device == DeviceType::Cpu && (!bias || bias->device == DeviceType::Cpu)) {
    cpu_->set_weights(weight, bias);
    cuda_->set_weights(weight, bias);
    return;
  }
  fail_arg(ErrorCode::DeviceMismatch, "weight",
           "host tensors for a Device::Auto router (it keeps a copy on every backend)",
           "a tensor in device memory; use make_router(cfg, Device::Cuda) for device-resident weights");
}

RouteStats AutoRouter::route(TensorView x, TensorView weights_out, TensorView ids_out,
                             const RouteOptions& options) {
  // x decides; the backend's own checks then name any output in the other memory.
  return (x.device == DeviceType::Cuda ? *cuda_ : *cpu_).route(x, weights_out, ids_out, options);
}

}  // namespace moerouter
