// The total order of DESIGN.md §2 in float64, shared by the oracle and the judge: higher value
// first; equal values -> lower index first; NaN below every number (-inf included), and among
// NaNs lower index first.
#pragma once
#include <cstdint>
#include <vector>

namespace moerouter::reference {

bool ranks_above(double va, int64_t ia, double vb, int64_t ib);

// Sorts ids (indices into values) best first.
void sort_ranked(std::vector<int32_t>& ids, const std::vector<double>& values);

// The `count` best of `candidates` (indices into values), best first.
std::vector<int32_t> top_ranked(const std::vector<double>& values, std::vector<int32_t> candidates,
                                int64_t count);

// |a - b| in the order's terms: 0 for two NaNs or two equal infinities, +inf for NaN vs a number.
double order_gap(double a, double b);

}  // namespace moerouter::reference
