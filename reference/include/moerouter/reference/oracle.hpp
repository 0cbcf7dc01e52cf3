// The float64 oracle: the router of DESIGN.md §1 evaluated in double, one row at a time, with the
// epilogue's rules (core/include/moerouter/epilogue.hpp) mirrored literally: softplus(l) = l above
// 20, softmax NaN handling, the total order for top-k and group scores, the rank-order sum and the
// 1e-20f renormalization epsilon. Deliberately scalar and slow; clarity over speed.
#pragma once
#include <cstdint>
#include <vector>

#include "moerouter/config.hpp"
#include "moerouter/reference/generate.hpp"

namespace moerouter::reference {

struct OracleRow {
  int64_t row = -1;                       // the problem row (route_row), -1 for epilogue_row
  std::vector<double> logits, act, sel;   // [E]
  std::vector<int32_t> ids;               // [k], rank order
  std::vector<double> weights;            // [k]
  // Bound on |FP32 logit - these logits| for any FP32 evaluation order (FMA or not):
  // max_e (gamma(H) + gamma_f64(H)) * S_e + H * 2^-149, S_e = sum_k |x_k w_ek|; the last term
  // covers products that underflow. 0 for experts whose logits are exact in FP32 (see
  // exact_logits). epilogue_row sets 0.
  double delta = 0;
  // All logits finite and no FP32 evaluation can overflow (every S_e <= 2^127). Rows with
  // finite == false cannot be judged against the oracle.
  bool finite = true;
  // Some float64 logit is NaN/inf, or so large (|l| - error bound >= 2^128) that every FP32
  // evaluation yields a non-finite logit. Backends' non-finite row counts lie between the number
  // of rows with this flag and the number of rows with !finite.
  bool certainly_nonfinite = false;
  // Every logit is exact in FP32 in any summation order: all inputs are dyadic with one common
  // quantum and the partial sums stay below 2^24 quanta (IntegerValued, TieHeavy, zero rows).
  // Then backends' logits must equal oracle_logits_f32 bit for bit.
  bool exact_logits = false;
  bool has_bias = false;   // sel = act + bias
  bool hashed = false;     // ids came from the hash table, not from top-k
  // Group-limited configs only: each group's score (sum of its two best sel), the kept groups in
  // rank order, and the best dropped group (-1 when none).
  std::vector<double> group_scores;       // [G]
  std::vector<int32_t> kept_groups;       // [topk_groups]
  int32_t group_runner_up = -1;
  // The best reachable expert not chosen (rank k+1 among the experts of the kept groups), -1 when
  // every reachable expert was chosen or the row is hash-routed.
  int32_t runner_up = -1;
};

// Full float64 computation of one row from x and W (and the problem's bias / hash routing).
OracleRow route_row(const Problem& p, int64_t row);
std::vector<OracleRow> route_all(const Problem& p);

// The epilogue alone, fed the given logits (e.g. a backend's own FP32 logits widened to double).
// bias: [E] or nullptr. hash_ids: k entries, selects hash routing. delta = 0, finite = all logits
// finite.
OracleRow epilogue_row(const RouterConfig& cfg, const double* logits, const float* bias,
                       const int32_t* hash_ids = nullptr);

// Oracle logits rounded to float (NaN as the canonical 0x7FC00000), [n, E].
std::vector<float> oracle_logits_f32(const Problem& p);

// Round to nearest float; every NaN becomes the canonical quiet NaN a backend writes.
float round_to_f32(double v);

// The float64 score functions (the epilogue's rules, in double).
double score_sqrtsoftplus(double l);
double score_sigmoid(double l);

}  // namespace moerouter::reference
