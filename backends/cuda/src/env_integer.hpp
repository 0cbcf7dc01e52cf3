// Integer settings read from the environment: the crossovers `moerouter bench` can re-measure on
// another device (MOEROUTER_BF16_DECODE_MAX_ROWS, MOEROUTER_CANONICAL_SPLITK_MAX_ROWS).
#pragma once
#include <cstdint>
#include <cstdlib>

#include "moerouter/error.hpp"

namespace moerouter::cuda::detail {

// Environment variable `name` as an integer in [lo, hi]; `fallback` when unset or empty. Anything
// else is an InvalidArgument error naming the variable, the range and the text found.
inline int64_t env_integer(const char* name, int64_t lo, int64_t hi, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long long parsed = std::strtoll(v, &end, 10);
  if (*end != '\0' || parsed < lo || parsed > hi)
    fail(ErrorCode::InvalidArgument, name, ": expected an integer in ", lo, "..", hi, ", got '", v, "'");
  return static_cast<int64_t>(parsed);
}

}  // namespace moerouter::cuda::detail
