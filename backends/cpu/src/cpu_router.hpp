// CpuRouter: canonical (own SIMD kernel), fp32 (Eigen) and bf16 (bf16-rounded inputs, exact
// products, FP32 accumulation through Eigen) modes, then the shared epilogue over rows.
#pragma once
#include <memory>
#include <shared_mutex>

#include "moerouter/router.hpp"
#include "packed_weights.hpp"

namespace moerouter::cpu {

class CpuRouter final : public Router {
 public:
  explicit CpuRouter(const RouterConfig& cfg);
  const RouterConfig& config() const override { return cfg_; }
  DeviceType device() const override { return DeviceType::Cpu; }
  const char* backend_name() const override { return "cpu"; }
  bool supports(GemmMode) const override { return true; }
  // Safe to call while other threads route: it waits for them (a reader/writer lock).
  void set_weights(TensorView weight, std::optional<TensorView> bias) override;
  RouteStats route(TensorView x, TensorView weights_out, TensorView ids_out,
                   const RouteOptions& options) override;

 private:
  RouterConfig cfg_;
  mutable std::shared_mutex weights_mutex_;
  std::shared_ptr<const PackedWeights> weights_;
};

}  // namespace moerouter::cpu
