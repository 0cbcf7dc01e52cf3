// The canonical dot product of DESIGN.md §2 (contract version 1), written as literally as possible,
// independent of the backend kernels, so tests pin the contract itself.
#pragma once
#include <cmath>
#include <cstdint>

namespace moerouter::testing {

inline float canonical_dot(const float* x, const float* w, int64_t h) {
  float total = 0.0f;
  for (int64_t c0 = 0; c0 < h; c0 += 64) {
    float chunk = +0.0f;
    for (int64_t k = c0; k < h && k < c0 + 64; ++k) chunk = std::fma(x[k], w[k], chunk);
    total = (c0 == 0) ? chunk : total + chunk;
  }
  return total;
}

}  // namespace moerouter::testing
