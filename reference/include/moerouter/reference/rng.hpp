// The generator's random numbers: splitmix64 plus a normal sampler built only from IEEE-exact
// operations (+ - * / sqrt, frexp), so a given seed yields the same bytes with every compiler and
// standard library. std::normal_distribution and libm's log/cos are deliberately not used: their
// results differ between implementations.
#pragma once
#include <cstdint>

namespace moerouter::reference {

// The splitmix64 output function (a bijective 64-bit mixer).
uint64_t mix64(uint64_t z);

// An independent stream seed for (seed, tag, index), e.g. one stream per x row: then rows do not
// depend on how many rows are generated, so a problem of n rows is a prefix of one of n + m rows.
uint64_t stream_seed(uint64_t seed, uint64_t tag, uint64_t index);

// Natural log of a finite x > 0 from frexp and a fixed atanh series: the same bits everywhere,
// accurate to a few double ulps (plenty for sampling).
double portable_log(double x);

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  double uniform();           // [0, 1) with 53 random bits
  int64_t below(int64_t n);   // [0, n) for n >= 1 (modulo; the bias is below 2^-40 for our n)
  double normal();            // N(0, 1), Marsaglia's polar method with portable_log

 private:
  uint64_t state_;
};

}  // namespace moerouter::reference
