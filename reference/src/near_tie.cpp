#include "moerouter/reference/near_tie.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "moerouter/reference/ranking.hpp"

namespace moerouter::reference {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double gamma_u(int64_t h, double u) {
  const double hu = static_cast<double>(h) * u;
  return hu < 1.0 ? hu / (1.0 - hu) : kInf;
}

// max(1, |v|), with NaN counted as 1 (a NaN score has no magnitude to scale with).
double scale_of(double v) { return std::isnan(v) ? 1.0 : std::max(1.0, std::fabs(v)); }

}  // namespace

double gamma(int64_t h) { return gamma_u(h, 0x1.0p-24); }
double gamma_f64(int64_t h) { return gamma_u(h, 0x1.0p-53); }

double score_lipschitz(ScoreFn score) {
  switch (score) {
    case ScoreFn::Sigmoid: return 0.5;
    case ScoreFn::SqrtSoftplus: return 0.75;
    case ScoreFn::Softmax: return 2.5;
  }
  return kInf;
}

double tie_band(const RouterConfig& cfg, const OracleRow& row, double magnitude) {
  double logit_term = score_lipschitz(cfg.score) * row.delta;
  if (cfg.score == ScoreFn::Softmax) logit_term = std::max(logit_term, std::expm1(2.0 * row.delta));
  const double rounding_term = 0x1.0p-20 * scale_of(magnitude);
  const double softmax_sum_term =
      cfg.score == ScoreFn::Softmax && row.has_bias ? gamma(cfg.experts) : 0.0;
  return logit_term + rounding_term + softmax_sum_term;
}

double group_tie_band(const RouterConfig& cfg, const OracleRow& row, double magnitude) {
  return 2.0 * tie_band(cfg, row, magnitude);
}

double expert_boundary_gap(const OracleRow& row) {
  if (row.hashed || row.runner_up < 0 || row.ids.empty()) return kInf;
  return order_gap(row.sel[static_cast<size_t>(row.ids.back())],
                   row.sel[static_cast<size_t>(row.runner_up)]);
}

double group_boundary_gap(const OracleRow& row) {
  if (row.hashed || row.group_runner_up < 0 || row.kept_groups.empty()) return kInf;
  return order_gap(row.group_scores[static_cast<size_t>(row.kept_groups.back())],
                   row.group_scores[static_cast<size_t>(row.group_runner_up)]);
}

double practical_band(double sel_value) { return kPracticalBandRelative * scale_of(sel_value); }

}  // namespace moerouter::reference
