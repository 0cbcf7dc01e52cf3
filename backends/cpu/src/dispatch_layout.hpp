// The dispatch layout (counts, expert offsets, stable token-slot permutation) from routed ids.
#pragma once
#include <cstdint>

#include "moerouter/router.hpp"

namespace moerouter::cpu {

// ids [n, k] in [0, E). Writes whichever of counts_out / expert_offsets_out / token_slots_out the
// options request. A counting sort in slot order, so slots within an expert ascend (stable).
void write_dispatch_layout(const int32_t* ids, int64_t n, int k, int64_t experts, const RouteOptions& o);

}  // namespace moerouter::cpu
