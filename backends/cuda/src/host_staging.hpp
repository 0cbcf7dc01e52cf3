// Routing host tensors on the GPU: the convenience path behind `moerouter route --device cuda`,
// the demo and numpy callers. Inputs are copied to the device, routed with the device path, and the
// outputs copied back; the call is synchronous and allocates, so engines pass device pointers.
#pragma once
#include "moerouter/router.hpp"

namespace moerouter::cuda::detail {

// Whether every tensor of the call lives in host memory (then route_from_host applies).
bool all_host(const TensorView& x, const TensorView& weights_out, const TensorView& ids_out,
              const RouteOptions& options);

// Checks the call as a host call, stages it through device memory and routes it with `router`.
// RouteStats' non-finite counts are computed from the logits (so they are real counts here).
RouteStats route_from_host(Router& router, const TensorView& x, const TensorView& weights_out,
                           const TensorView& ids_out, const RouteOptions& options, int device_id);

}  // namespace moerouter::cuda::detail
