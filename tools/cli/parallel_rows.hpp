// The CLI's row-parallel helper lives in the reference library (check_routing needs it too).
#pragma once
#include "moerouter/reference/parallel_rows.hpp"

namespace moerouter::cli {
using reference::parallel_rows;
}  // namespace moerouter::cli
