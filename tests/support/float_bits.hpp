// Float <-> bit pattern helpers for the math tests and sweeps.
#pragma once
#include <cstdint>
#include <cstring>

namespace moerouter::testing {

inline uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Floats on an ordered integer line: +0 and -0 both at 0, negatives mirrored; the distance of two
// ordinals is their distance in ulps.
inline int64_t ordinal(float f) {
  const uint32_t u = bits_of(f);
  return (u & 0x80000000u) ? -static_cast<int64_t>(u & 0x7FFFFFFFu) : static_cast<int64_t>(u);
}

}  // namespace moerouter::testing
