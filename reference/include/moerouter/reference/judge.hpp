// The judge: compares one row of a backend's output (ids, weights) with the float64 oracle.
//
// Verdicts:
//   Exact     ids equal the oracle's (as sequences when ordered, as sets otherwise).
//   NearTie   ids differ, but only as near ties allow (see tie_band): the got ids are distinct and
//             in range, and rank by rank (the got ids sorted by oracle order when unordered)
//             |sel[got_i] - sel[expected_i]| <= tie_band. A backend whose every sel is within
//             tie_band/2 of the oracle's passes this test, whatever it swapped.
//             Group-limited configs: when the kept/dropped group boundary is itself a near tie
//             (gap <= group_tie_band), a backend may keep a different set of groups. Then the
//             rule is: the ids' groups, together with the groups every valid choice keeps (kept
//             groups more than group_tie_band above the best dropped one), number at most
//             topk_groups and each scores above, or within group_tie_band of, the last kept
//             group; and rank by rank the ids match (within tie_band) the oracle's top-k among
//             the experts of those groups. Otherwise every got id must lie in an oracle-kept
//             group.
//   Mismatch  anything else: a bug.
// Hash-routed rows must match exactly (no ties are involved). Rows the oracle marks non-finite
// cannot be judged: any distinct in-range ids are Exact, and explain says "non-finite row".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "moerouter/config.hpp"
#include "moerouter/reference/oracle.hpp"

namespace moerouter::reference {

enum class Verdict { Exact, NearTie, Mismatch };
const char* to_string(Verdict v) noexcept;  // "exact", "near-tie", "mismatch"

struct RowJudgement {
  Verdict ids = Verdict::Exact;
  double gap = 0;    // smallest relevant oracle gap: rank k vs k+1, or the group boundary
  double band = 0;   // the tie band belonging to that gap (group_tie_band for a group gap)
  double worst_diff = 0;  // largest rank-by-rank |sel[got_i] - sel[expected_i]| (0 when Exact)
  // Largest ulp distance of the weights from the oracle's, rounded to float and matched by id;
  // -1 when not meaningful (the id sets differ, a non-finite row, or no weights were given).
  int64_t max_weight_ulp = 0;
  std::string explain;  // one line: row, expected vs got ids, gap vs band, weight ulp, verdict
};

// ids, weights: the backend's k outputs for this row; weights may be nullptr.
// ordered=false: compare ids as sets (weights matched by id).
RowJudgement judge_row(const RouterConfig& cfg, const OracleRow& oracle, const int32_t* ids,
                       const float* weights, bool ordered = true);

// Ordered-integer distance between two floats (adjacent floats: 1; +0 and -0: 0). Two NaNs: 0;
// NaN against a number: INT64_MAX.
int64_t ulp_distance(float a, float b);

// A whole batch: ids / weights [rows, k] against route_all's rows.
struct BatchJudgement {
  int64_t rows = 0, exact = 0, near_tie = 0, mismatch = 0;
  int64_t nonfinite = 0;        // rows the oracle could not judge (counted as exact too)
  int64_t max_weight_ulp = 0;   // over the rows where it is meaningful
  int64_t first_mismatch_row = -1;
  std::string first_mismatch;   // its explanation
};
BatchJudgement judge_all(const RouterConfig& cfg, const std::vector<OracleRow>& oracle,
                         const int32_t* ids, const float* weights, bool ordered = true);

}  // namespace moerouter::reference
