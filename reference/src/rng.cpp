#include "moerouter/reference/rng.hpp"

#include <cmath>

namespace moerouter::reference {

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t stream_seed(uint64_t seed, uint64_t tag, uint64_t index) {
  // Each step goes through the mixer, so nearby (seed, tag, index) triples give unrelated streams.
  return mix64(mix64(mix64(seed + 0x9E3779B97F4A7C15ull) ^ tag) + index);
}

double portable_log(double x) {
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(t), t = (m - 1)/(m + 1), |t| < 0.172,
  // so t^2 < 0.0295 and 13 odd terms leave a truncation error below 1e-20.
  int e = 0;
  double m = std::frexp(x, &e);  // exact; m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2.0;  // exact
    e -= 1;
  }
  const double t = (m - 1.0) / (m + 1.0);
  const double t2 = t * t;
  double series = 1.0 / 25.0;
  for (int j = 11; j >= 0; --j) series = 1.0 / (2 * j + 1) + t2 * series;
  const double kLn2 = 0.69314718055994530942;
  return 2.0 * t * series + e * kLn2;
}

uint64_t SplitMix64::next() {
  state_ += 0x9E3779B97F4A7C15ull;
  return mix64(state_);
}

double SplitMix64::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

int64_t SplitMix64::below(int64_t n) {
  return static_cast<int64_t>((next() >> 11) % static_cast<uint64_t>(n));
}

double SplitMix64::normal() {
  // Polar method: needs only log and sqrt (no trig); the rejection loop is deterministic too.
  for (;;) {
    const double u = 2.0 * uniform() - 1.0;
    const double v = 2.0 * uniform() - 1.0;
    const double s = u * u + v * v;
    if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * portable_log(s) / s);
  }
}

}  // namespace moerouter::reference
