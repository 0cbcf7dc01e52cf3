// The body of CpuRouter::route once every argument has been checked.
#pragma once
#include "moerouter/router.hpp"
#include "packed_weights.hpp"

namespace moerouter::cpu {

RouteStats route_checked(const RouterConfig& cfg, const PackedWeights& w, GemmMode mode,
                         const TensorView& x, const TensorView& weights_out,
                         const TensorView& ids_out, const RouteOptions& options);

}  // namespace moerouter::cpu
