// The per-expert token counts as compact text bars that fit in 80 columns.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace moerouter::cli {

// One bar per bucket of consecutive experts (1, 2, 4, ... experts per bucket, at most 48 bars),
// two bars to a line when there are many; ends with a line of min / max / imbalance figures.
std::string format_load_histogram(const std::vector<int64_t>& counts, int64_t tokens, int top_k);

}  // namespace moerouter::cli
