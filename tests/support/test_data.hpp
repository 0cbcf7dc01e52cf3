// Small deterministic data makers for tests that do not need the reference generator.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "moerouter/router.hpp"

namespace moerouter::testing {

// splitmix64: tiny, portable, the same numbers on every standard library.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>((next() >> 40) * 0x1.0p-24); }
  int integer(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
};

inline std::vector<float> uniform_vector(size_t n, float lo, float hi, uint64_t seed) {
  Rng r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = r.uniform(lo, hi);
  return v;
}

// Outputs filled with a poison pattern so an unwritten element can never look valid.
struct Outputs {
  std::vector<float> weights;
  std::vector<int32_t> ids;
  Outputs(int64_t n, int k) : weights(static_cast<size_t>(n * k)), ids(static_cast<size_t>(n * k)) { poison(); }
  void poison() {
    std::memset(weights.data(), 0xA5, weights.size() * sizeof(float));
    std::memset(ids.data(), 0xA5, ids.size() * sizeof(int32_t));
  }
  TensorView w_view(int64_t n, int k) { return TensorView::matrix(weights.data(), DType::F32, n, k); }
  TensorView i_view(int64_t n, int k) { return TensorView::matrix(ids.data(), DType::I32, n, k); }
  bool operator==(const Outputs& o) const {
    return weights.size() == o.weights.size() &&
           std::memcmp(weights.data(), o.weights.data(), weights.size() * sizeof(float)) == 0 &&
           std::memcmp(ids.data(), o.ids.data(), ids.size() * sizeof(int32_t)) == 0;
  }
};

// Routes x [n, H] (F32, contiguous) with the given options; returns poisoned-then-written outputs.
inline Outputs route_f32(Router& r, const std::vector<float>& x, int64_t n, RouteOptions o = {}) {
  const auto& c = r.config();
  Outputs out(n, c.top_k);
  r.route(TensorView::matrix(const_cast<float*>(x.data()), DType::F32, n, c.hidden),
          out.w_view(n, c.top_k), out.i_view(n, c.top_k), o);
  return out;
}

}  // namespace moerouter::testing
