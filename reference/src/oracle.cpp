#include "moerouter/reference/oracle.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>

#include "moerouter/error.hpp"
#include "moerouter/reference/near_tie.hpp"
#include "moerouter/reference/ranking.hpp"

namespace moerouter::reference {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// Exponent of the lowest set bit of a finite nonzero float: f = odd * 2^result.
int lsb_exponent(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u &= 0x7FFFFFFFu;
  const uint32_t biased = u >> 23;
  const uint32_t mantissa = biased ? (u & 0x7FFFFFu) | 0x800000u : u & 0x7FFFFFu;
  const int exponent = biased ? static_cast<int>(biased) - 150 : -149;
  int tz = 0;
  for (uint32_t m = mantissa; (m & 1u) == 0; m >>= 1) ++tz;
  return exponent + tz;
}

// Whether a vector is finite, and the smallest lsb exponent of its nonzero entries (INT_MAX when
// all are zero). Every product x_k * w_k is then a multiple of 2^(qx + qw).
struct Quantum {
  bool finite = true;
  int min_lsb = INT_MAX;
};

Quantum quantum_of(const float* v, int64_t len) {
  Quantum q;
  for (int64_t k = 0; k < len; ++k) {
    if (!std::isfinite(v[k])) {
      q.finite = false;
      return q;
    }
    if (v[k] != 0.0f) q.min_lsb = std::min(q.min_lsb, lsb_exponent(v[k]));
  }
  return q;
}

// Exactness of one expert's logit in FP32: all partial sums are multiples of 2^q with magnitude
// <= S; when S < 2^(24 + q) and q >= -149 each one is a float (24-bit significand, within the
// subnormal grid), so no FP32 operation rounds, whatever the order.
bool exact_in_fp32(const Quantum& qx, const Quantum& qw, double S) {
  if (!qx.finite || !qw.finite) return false;
  if (qx.min_lsb == INT_MAX || qw.min_lsb == INT_MAX) return true;  // every product is zero
  const int q = qx.min_lsb + qw.min_lsb;
  return q >= -149 && S < std::ldexp(1.0, 24 + q) && S <= 0x1.0p127;
}

// The dot product in double: each product of two floats is exact (24 + 24 bits < 53); only the
// double additions round. abs_sum receives S = sum |x_k w_k|.
double dot_f64(const float* x, const float* w, int64_t H, double* abs_sum) {
  double sum = 0.0, S = 0.0;
  for (int64_t k = 0; k < H; ++k) {
    const double prod = static_cast<double>(x[k]) * static_cast<double>(w[k]);
    sum += prod;
    S += std::fabs(prod);
  }
  *abs_sum = S;
  return sum;
}

std::vector<Quantum> weight_quanta(const Problem& p) {
  std::vector<Quantum> q(static_cast<size_t>(p.cfg.experts));
  for (int64_t e = 0; e < p.cfg.experts; ++e)
    q[static_cast<size_t>(e)] = quantum_of(&p.w[static_cast<size_t>(e * p.cfg.hidden)], p.cfg.hidden);
  return q;
}

void check_problem(const Problem& p) {
  const RouterConfig& c = p.cfg;
  validate(c);
  if (p.x.size() != static_cast<size_t>(p.n * c.hidden))
    fail_arg(ErrorCode::ShapeMismatch, "problem.x", "n * H = " + std::to_string(p.n * c.hidden),
             p.x.size());
  if (p.w.size() != static_cast<size_t>(c.experts * c.hidden))
    fail_arg(ErrorCode::ShapeMismatch, "problem.w", "E * H = " + std::to_string(c.experts * c.hidden),
             p.w.size());
  if (!p.bias.empty() && p.bias.size() != static_cast<size_t>(c.experts))
    fail_arg(ErrorCode::ShapeMismatch, "problem.bias", "0 or E = " + std::to_string(c.experts),
             p.bias.size());
  if (!p.token_ids.empty()) {
    if (p.token_ids.size() != static_cast<size_t>(p.n))
      fail_arg(ErrorCode::ShapeMismatch, "problem.token_ids", "n = " + std::to_string(p.n),
               p.token_ids.size());
    if (p.hash_table.size() != static_cast<size_t>(p.vocab * c.top_k))
      fail_arg(ErrorCode::ShapeMismatch, "problem.hash_table",
               "vocab * k = " + std::to_string(p.vocab * c.top_k), p.hash_table.size());
    for (int32_t t : p.token_ids)
      if (t < 0 || t >= p.vocab)
        fail_arg(ErrorCode::InvalidArgument, "problem.token_ids",
                 "ids in [0, " + std::to_string(p.vocab) + ")", t);
  }
}

void activate(const RouterConfig& cfg, OracleRow& o) {
  const size_t E = o.logits.size();
  o.act.resize(E);
  if (cfg.score == ScoreFn::SqrtSoftplus) {
    for (size_t e = 0; e < E; ++e) o.act[e] = score_sqrtsoftplus(o.logits[e]);
  } else if (cfg.score == ScoreFn::Sigmoid) {
    for (size_t e = 0; e < E; ++e) o.act[e] = score_sigmoid(o.logits[e]);
  } else {
    // Softmax, as the epilogue: a NaN anywhere makes every score NaN; a +inf max (inf - inf) or an
    // all -inf row gives NaN through the arithmetic itself.
    double m = o.logits[0];
    bool any_nan = std::isnan(m);
    for (size_t e = 1; e < E; ++e) {
      any_nan = any_nan || std::isnan(o.logits[e]);
      if (o.logits[e] > m) m = o.logits[e];
    }
    if (any_nan) {
      std::fill(o.act.begin(), o.act.end(), kNan);
      return;
    }
    double sum = 0.0;
    for (size_t e = 0; e < E; ++e) {
      o.act[e] = std::exp(o.logits[e] - m);
      sum += o.act[e];
    }
    for (size_t e = 0; e < E; ++e) o.act[e] = o.act[e] / sum;
  }
}

// Group limiting: group score = sum of the group's two best sel (its only one for one-expert
// groups); keep the topk_groups best groups in the total order. Returns the reachable experts.
std::vector<int32_t> select_groups(const RouterConfig& cfg, OracleRow& o) {
  const int64_t G = cfg.groups, per = cfg.experts_per_group();
  o.group_scores.assign(static_cast<size_t>(G), 0.0);
  for (int64_t g = 0; g < G; ++g) {
    std::vector<int32_t> members;
    for (int64_t j = 0; j < per; ++j) members.push_back(static_cast<int32_t>(g * per + j));
    const std::vector<int32_t> best = top_ranked(o.sel, members, 2);
    double score = o.sel[static_cast<size_t>(best[0])];
    if (best.size() == 2) score = score + o.sel[static_cast<size_t>(best[1])];
    o.group_scores[static_cast<size_t>(g)] = score;
  }
  std::vector<int32_t> groups(static_cast<size_t>(G));
  for (int64_t g = 0; g < G; ++g) groups[static_cast<size_t>(g)] = static_cast<int32_t>(g);
  sort_ranked(groups, o.group_scores);
  const size_t keep = static_cast<size_t>(cfg.topk_groups);
  o.kept_groups.assign(groups.begin(), groups.begin() + static_cast<std::ptrdiff_t>(keep));
  o.group_runner_up = keep < groups.size() ? groups[keep] : -1;
  std::vector<int32_t> reachable;
  for (int32_t g : o.kept_groups)
    for (int64_t j = 0; j < per; ++j) reachable.push_back(static_cast<int32_t>(g * per + j));
  return reachable;
}

// Everything after the logits; o.logits is filled.
void finish(const RouterConfig& cfg, const float* bias, const int32_t* hash_ids, OracleRow& o) {
  const int64_t E = cfg.experts, k = cfg.top_k;
  activate(cfg, o);
  o.has_bias = bias != nullptr;
  o.sel = o.act;
  if (bias)
    for (int64_t e = 0; e < E; ++e) o.sel[static_cast<size_t>(e)] += static_cast<double>(bias[e]);

  if (hash_ids) {
    o.hashed = true;
    o.ids.assign(hash_ids, hash_ids + k);
  } else {
    std::vector<int32_t> reachable;
    if (cfg.group_limited()) {
      reachable = select_groups(cfg, o);
    } else {
      for (int64_t e = 0; e < E; ++e) reachable.push_back(static_cast<int32_t>(e));
    }
    sort_ranked(reachable, o.sel);
    o.ids.assign(reachable.begin(), reachable.begin() + k);
    o.runner_up = static_cast<int64_t>(reachable.size()) > k ? reachable[static_cast<size_t>(k)] : -1;
  }

  // Weights from the unbiased activation; the sum in rank order, as the epilogue.
  o.weights.resize(static_cast<size_t>(k));
  const double scale = static_cast<double>(cfg.scale);
  if (cfg.renormalize) {
    double sum = 0.0;
    for (int64_t i = 0; i < k; ++i) sum = sum + o.act[static_cast<size_t>(o.ids[i])];
    const double denom = sum + static_cast<double>(kRenormEpsilon);
    for (int64_t i = 0; i < k; ++i)
      o.weights[static_cast<size_t>(i)] = (o.act[static_cast<size_t>(o.ids[i])] / denom) * scale;
  } else {
    for (int64_t i = 0; i < k; ++i)
      o.weights[static_cast<size_t>(i)] = o.act[static_cast<size_t>(o.ids[i])] * scale;
  }
}

OracleRow route_row_with(const Problem& p, int64_t row, const std::vector<Quantum>& wq) {
  const RouterConfig& c = p.cfg;
  const int64_t H = c.hidden, E = c.experts;
  if (row < 0 || row >= p.n)
    fail_arg(ErrorCode::InvalidArgument, "route_row: row", "0 <= row < " + std::to_string(p.n), row);
  const float* x = &p.x[static_cast<size_t>(row * H)];
  const Quantum qx = quantum_of(x, H);
  // The double sum of exact float products has its own rounding error, at most gamma_f64(H) S;
  // it is added to delta so the bound holds against the exact dot product too.
  const double g = gamma(H) + gamma_f64(H);
  const double underflow = static_cast<double>(H) * 0x1.0p-149;

  OracleRow o;
  o.row = row;
  o.logits.resize(static_cast<size_t>(E));
  o.exact_logits = true;
  for (int64_t e = 0; e < E; ++e) {
    double S = 0.0;
    const double sum = dot_f64(x, &p.w[static_cast<size_t>(e * H)], H, &S);
    o.logits[static_cast<size_t>(e)] = sum;
    const bool exact = exact_in_fp32(qx, wq[static_cast<size_t>(e)], S);
    o.exact_logits = o.exact_logits && exact;
    double d = exact ? 0.0 : g * S + underflow;
    if (std::isnan(d)) d = kInf;
    o.delta = std::max(o.delta, d);
    const bool fin = std::isfinite(sum) && S <= 0x1.0p127;  // NaN S fails the comparison
    o.finite = o.finite && fin;
    if (!std::isfinite(sum) || std::fabs(sum) - d >= 0x1.0p128) o.certainly_nonfinite = true;
  }
  finish(c, p.bias.empty() ? nullptr : p.bias.data(), p.hash_ids(row), o);
  return o;
}

}  // namespace

double score_sqrtsoftplus(double l) {
  if (std::isnan(l)) return kNan;
  const double softplus = l > 20.0 ? l : std::log1p(std::exp(l));  // the epilogue's cut at 20
  return std::sqrt(softplus);
}

double score_sigmoid(double l) {
  if (std::isnan(l)) return kNan;
  if (l >= 0.0) return 1.0 / (1.0 + std::exp(-l));
  const double e = std::exp(l);
  return e / (1.0 + e);
}

float round_to_f32(double v) {
  if (std::isnan(v)) {
    const uint32_t bits = 0x7FC00000u;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  return static_cast<float>(v);
}

OracleRow route_row(const Problem& p, int64_t row) {
  check_problem(p);
  return route_row_with(p, row, weight_quanta(p));
}

std::vector<OracleRow> route_all(const Problem& p) {
  check_problem(p);
  const std::vector<Quantum> wq = weight_quanta(p);
  std::vector<OracleRow> rows;
  rows.reserve(static_cast<size_t>(p.n));
  for (int64_t r = 0; r < p.n; ++r) rows.push_back(route_row_with(p, r, wq));
  return rows;
}

OracleRow epilogue_row(const RouterConfig& cfg, const double* logits, const float* bias,
                       const int32_t* hash_ids) {
  validate(cfg);
  OracleRow o;
  o.logits.assign(logits, logits + cfg.experts);
  for (double l : o.logits) o.finite = o.finite && std::isfinite(l);
  o.certainly_nonfinite = !o.finite;
  finish(cfg, bias, hash_ids, o);
  return o;
}

std::vector<float> oracle_logits_f32(const Problem& p) {
  check_problem(p);
  const int64_t H = p.cfg.hidden, E = p.cfg.experts;
  std::vector<float> out(static_cast<size_t>(p.n * E));
  for (int64_t r = 0; r < p.n; ++r)
    for (int64_t e = 0; e < E; ++e) {
      double S = 0.0;
      const double sum =
          dot_f64(&p.x[static_cast<size_t>(r * H)], &p.w[static_cast<size_t>(e * H)], H, &S);
      out[static_cast<size_t>(r * E + e)] = round_to_f32(sum);
    }
  return out;
}

}  // namespace moerouter::reference
