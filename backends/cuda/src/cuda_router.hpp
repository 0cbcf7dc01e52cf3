// CudaRouterImpl: device-resident weights, per-stream workspaces, the three gemm modes, the shared
// epilogue on the device.
#pragma once
#include <shared_mutex>

#include "cuda_check.hpp"
#include "moerouter/cuda.hpp"
#include "workspace.hpp"

namespace moerouter::cuda::detail {

class CudaRouterImpl final : public CudaRouter {
 public:
  explicit CudaRouterImpl(const RouterConfig& cfg);  // on the current device
  ~CudaRouterImpl() override;

  const RouterConfig& config() const override { return cfg_; }
  DeviceType device() const override { return DeviceType::Cuda; }
  const char* backend_name() const override { return "cuda"; }
  bool supports(GemmMode) const override { return true; }
  // Host or device W/bias. Waits for every call already enqueued on the device (they read the old
  // weights), then overwrites the device copies in place: device addresses never change, so a
  // captured graph sees the new values (but not a change between with and without bias).
  void set_weights(TensorView weight, std::optional<TensorView> bias) override;
  RouteStats route(TensorView x, TensorView weights_out, TensorView ids_out,
                   const RouteOptions& options) override;
  void reserve(int64_t max_rows, void* stream) override;
  int device_id() const override { return device_; }

 private:
  void check_device_ids(const TensorView& x, const TensorView& w, const TensorView& i,
                        const RouteOptions& o) const;
  void check_hash_on_device(Workspace& ws, const RouteOptions& o, int64_t n, cudaStream_t stream);
  void check_finite_on_device(Workspace& ws, int64_t n, cudaStream_t stream);

  RouterConfig cfg_;
  int device_ = 0;
  mutable std::shared_mutex weights_mutex_;  // shared: route() enqueueing; unique: set_weights
  DeviceArray w_f32_;   // [E, H] widened exactly from bf16 when given bf16
  DeviceArray w_bf16_;  // [E, H] rounded to bf16 (nearest even) for gemm=bf16
  DeviceArray bias_;    // [E]
  bool loaded_ = false, has_bias_ = false;
  bool w_bf16_exact_ = false;  // every weight is a bf16 value (set_weights checks)
  WorkspacePool pool_;
};

}  // namespace moerouter::cuda::detail
