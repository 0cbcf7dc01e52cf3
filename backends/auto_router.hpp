// Device::Auto with a GPU present: one router per backend, each call dispatched by where its
// tensors live (device memory -> CUDA, host memory -> CPU), mixed placement rejected.
#pragma once
#include <memory>

#include "moerouter/router.hpp"

namespace moerouter {

class AutoRouter final : public Router {
 public:
  AutoRouter(std::unique_ptr<Router> cpu, std::unique_ptr<Router> cuda);
  const RouterConfig& config() const override { return cpu_->config(); }
  // The device of the accelerator: what Auto chose when a caller hands it device tensors.
  DeviceType device() const override { return DeviceType::Cuda; }
  const char* backend_name() const override { return "auto(cpu+cuda)"; }
  bool supports(GemmMode mode) const override { return cpu_->supports(mode) && cuda_->supports(mode); }
  void set_weights(TensorView weight, std::optional<TensorView> bias) override;
  RouteStats route(TensorView x, TensorView weights_out, TensorView ids_out,
                   const RouteOptions& options) override;

 private:
  std::unique_ptr<Router> cpu_, cuda_;
};

}  // namespace moerouter
