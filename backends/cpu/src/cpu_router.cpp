#include "cpu_router.hpp"

#include <mutex>
#include <new>

#include "cpu_route.hpp"
#include "moerouter/cpu.hpp"
#include "moerouter/error.hpp"
#include "moerouter/route_checks.hpp"

namespace moerouter::cpu {

CpuRouter::CpuRouter(const RouterConfig& cfg) : cfg_(cfg) { validate(cfg_); }

void CpuRouter::set_weights(TensorView weight, std::optional<TensorView> bias) {
  check_weight_args(cfg_, weight, bias, DeviceType::Cpu);
  std::shared_ptr<const PackedWeights> packed;
  try {
    packed = std::make_shared<const PackedWeights>(
        pack_weights(weight, bias ? static_cast<const float*>(bias->data) : nullptr));
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::OutOfMemory, "set_weights: could not allocate the packed weights for ",
         weight.shape_string());
  }
  std::unique_lock<std::shared_mutex> lock(weights_mutex_);
  weights_ = std::move(packed);
}

RouteStats CpuRouter::route(TensorView x, TensorView weights_out, TensorView ids_out,
                            const RouteOptions& options) {
  check_route_args(cfg_, x, weights_out, ids_out, options, DeviceType::Cpu);
  const GemmMode mode = options.gemm.value_or(cfg_.gemm);
  if (options.threads < 0)
    fail_arg(ErrorCode::InvalidArgument, "threads", "threads >= 0 (0 = OpenMP default)", options.threads);
  std::shared_ptr<const PackedWeights> w;
  {
    std::shared_lock<std::shared_mutex> lock(weights_mutex_);
    w = weights_;
  }
  if (!w)
    fail_arg(ErrorCode::InvalidArgument, "weight", "set_weights() called before route()",
             "a router without weights");
  if (options.hash_table) check_hash_values(cfg_, *options.token_ids, *options.hash_table);
  return route_checked(cfg_, *w, mode, x, weights_out, ids_out, options);
}

namespace {
bool always_available() { return true; }
std::unique_ptr<Router> create(const RouterConfig& cfg) { return std::make_unique<CpuRouter>(cfg); }
}  // namespace

const Backend& backend() {
  static const Backend b{"cpu", DeviceType::Cpu, &always_available, &create};
  return b;
}

}  // namespace moerouter::cpu
