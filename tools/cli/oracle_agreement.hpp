// How a routing result compares with the float64 oracle, on a sample of rows.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "moerouter/reference/generate.hpp"

namespace moerouter::cli {

struct OracleAgreement {
  int64_t rows = 0;      // rows judged
  int64_t exact = 0;     // ids equal to the oracle's
  int64_t near_tie = 0;  // ids differ, but only inside the near-tie band
  int64_t mismatch = 0;  // ids differ outside the band: a bug
  int64_t max_weight_ulp = 0;  // over the exact rows
  std::string first_mismatch;  // the judge's explanation, with the row
};

// Judges `sample` rows spread evenly over the problem (all rows when sample >= n).
// ids / weights are the router's [n, k] outputs.
OracleAgreement agree_with_oracle(const reference::Problem& problem, const std::vector<int32_t>& ids,
                                  const std::vector<float>& weights, int64_t sample);

std::string format_agreement(const OracleAgreement& a);

}  // namespace moerouter::cli
