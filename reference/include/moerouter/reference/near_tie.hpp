// The near-tie bound: how close two selection scores may be before two correct implementations
// (FP32 logits in any summation order, the FP32 epilogue) can rank them differently.
#pragma once
#include <cstdint>

#include "moerouter/config.hpp"
#include "moerouter/reference/oracle.hpp"

namespace moerouter::reference {

// gamma_h = h u / (1 - h u) (Higham), u = 2^-24: |fl(x . w) - x . w| <= gamma_H sum |x_k w_k| for
// any evaluation order of a length-H dot product in FP32, FMA or not. +inf when h u >= 1.
double gamma(int64_t h);
// The same with u = 2^-53 (the oracle's own double accumulation).
double gamma_f64(int64_t h);

// L: bounds the change of a gap sel_a - sel_b when every logit moves by at most delta
// (|change| <= L * delta). Both values move, so L is twice the score's own Lipschitz constant,
// except for softmax where the two moves share one bound:
//   sigmoid       0.5   (sigmoid' <= 1/4)
//   sqrtsoftplus  0.75  (d/dl sqrt(softplus(l)) = sigmoid(l) / (2 sqrt(softplus(l))) peaks at
//                        0.3191 near l = 0.92; the cut softplus(l) = l above 20 moves it by < 2^-32)
//   softmax       2.5   (|l' - l| <= delta scales each p by a factor in [e^-2delta, e^2delta], so
//                        |dp_a| + |dp_b| <= (p_a + p_b)(e^2delta - 1) <= e^2delta - 1 <= 2.5 delta
//                        for delta <= 0.2; tie_band uses expm1(2 delta) itself beyond that)
double score_lipschitz(ScoreFn score);

// The band of sel gaps within which two correct implementations may rank experts differently:
//   L * row.delta                        (logit error, see score_lipschitz)
// + 2^-20 * max(1, |magnitude|)          (FP32 epilogue rounding of both values: a few ulp each)
// + gamma(E) for softmax with bias       (the FP32 softmax sum's relative error scales all scores
//                                         alike, which preserves their order only without bias)
// `magnitude` is the scale of the compared values: the judge passes the largest |sel| or |act|
// involved (act matters when a large act is cancelled by bias).
double tie_band(const RouterConfig& cfg, const OracleRow& row, double magnitude);

// Group scores are sums of two sel values, so their error doubles: twice tie_band.
double group_tie_band(const RouterConfig& cfg, const OracleRow& row, double magnitude);

// The oracle's rank-k / rank-(k+1) gap in sel among the reachable experts (+inf when every
// reachable expert was chosen, or for hash routing).
double expert_boundary_gap(const OracleRow& row);
// The gap between the last kept and the best dropped group score (+inf when not group-limited or
// every group is kept).
double group_boundary_gap(const OracleRow& row);

// DESIGN.md §2 (3): rows whose boundary gap exceeds this practical band must match the oracle
// exactly; inside it the mismatch rate is reported, not asserted.
inline constexpr double kPracticalBandRelative = 1e-4;
double practical_band(double sel_value);  // 1e-4 * max(1, |sel_value|)

}  // namespace moerouter::reference
