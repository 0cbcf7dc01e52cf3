// Portable micro-kernel: the contract written out literally. Built without any -m flag.
#include <cmath>
#include <cstring>

#include "canonical_gemm.hpp"
#include "moerouter/config.hpp"
#include "moerouter/tensor.hpp"

namespace moerouter::cpu {

void tile_scalar(const float* const* x_rows, int rows, const void* panel, bool bf16, int64_t k0,
                 int64_t k1, float* totals, int64_t ldt) {
  const auto* p32 = static_cast<const float*>(panel);
  const auto* p16 = static_cast<const uint16_t*>(panel);
  for (int r = 0; r < rows; ++r) {
    const float* x = x_rows[r];
    for (int j = 0; j < kPanel; ++j) {
      float total = k0 == 0 ? 0.0f : totals[r * ldt + j];  // k0 == 0: no running total yet
      for (int64_t c0 = k0; c0 < k1; c0 += kCanonicalChunk) {
        const int64_t c1 = c0 + kCanonicalChunk < k1 ? c0 + kCanonicalChunk : k1;
        float chunk = 0.0f;
        for (int64_t k = c0; k < c1; ++k) {
          const float w = bf16 ? bf16_to_float(p16[k * kPanel + j]) : p32[k * kPanel + j];
          chunk = std::fma(x[k - k0], w, chunk);
        }
        total = (c0 == 0) ? chunk : total + chunk;  // the first chunk sum is the total as is
      }
      totals[r * ldt + j] = total;
    }
  }
}

}  // namespace moerouter::cpu
