// Portable micro-kernel: the contract written out literally. Built without any -m flag.
#include <cmath>

#include "canonical_gemm.hpp"
#include "moerouter/config.hpp"

namespace moerouter::cpu {

void tile_scalar(const float* const* x_rows, const float* panel, int64_t hidden, float* out) {
  for (int r = 0; r < kTileRows; ++r) {
    const float* x = x_rows[r];
    for (int j = 0; j < kPanel; ++j) {
      float total = 0.0f;
      for (int64_t c0 = 0; c0 < hidden; c0 += kCanonicalChunk) {
        const int64_t c1 = c0 + kCanonicalChunk < hidden ? c0 + kCanonicalChunk : hidden;
        float chunk = 0.0f;
        for (int64_t k = c0; k < c1; ++k) chunk = std::fma(x[k], panel[k * kPanel + j], chunk);
        total = (c0 == 0) ? chunk : total + chunk;  // the first chunk sum is the total as is
      }
      out[r * kPanel + j] = total;
    }
  }
}

}  // namespace moerouter::cpu
