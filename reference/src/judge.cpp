#include "moerouter/reference/judge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "moerouter/error.hpp"
#include "moerouter/reference/near_tie.hpp"
#include "moerouter/reference/ranking.hpp"

namespace moerouter::reference {

namespace {

std::string id_list(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s + "]";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

bool distinct_in_range(const std::vector<int32_t>& ids, int64_t E) {
  std::set<int32_t> seen;
  for (int32_t id : ids)
    if (id < 0 || id >= E || !seen.insert(id).second) return false;
  return true;
}

double abs_or_zero(double v) { return std::isnan(v) ? 0.0 : std::fabs(v); }

// The scale of two experts' values for tie_band: their largest |sel| or |act|.
double magnitude(const OracleRow& o, int32_t a, int32_t b) {
  double m = 0.0;
  for (int32_t e : {a, b}) {
    if (e < 0) continue;
    m = std::max({m, abs_or_zero(o.sel[static_cast<size_t>(e)]),
                  abs_or_zero(o.act[static_cast<size_t>(e)])});
  }
  return m;
}

// Weights matched by id against the oracle's rounded to float; -1 when the id sets differ.
int64_t weight_ulp(const OracleRow& o, const std::vector<int32_t>& got, const float* weights) {
  int64_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const auto it = std::find(o.ids.begin(), o.ids.end(), got[i]);
    if (it == o.ids.end()) return -1;
    const float expected = round_to_f32(o.weights[static_cast<size_t>(it - o.ids.begin())]);
    worst = std::max(worst, ulp_distance(weights[i], expected));
  }
  return worst;
}

// Rank-by-rank check of got (already in the order to compare) against expected.
// Returns true when every rank is within its tie band; worst receives the largest difference.
bool within_band(const RouterConfig& cfg, const OracleRow& o, const std::vector<int32_t>& got,
                 const std::vector<int32_t>& expected, double* worst, std::string* note) {
  bool ok = true;
  for (size_t i = 0; i < got.size() && i < expected.size(); ++i) {
    const double diff =
        order_gap(o.sel[static_cast<size_t>(got[i])], o.sel[static_cast<size_t>(expected[i])]);
    *worst = std::max(*worst, diff);
    if (ok && diff > tie_band(cfg, o, magnitude(o, got[i], expected[i]))) {
      ok = false;
      *note = "rank " + std::to_string(i) + ": id " + std::to_string(got[i]) + " for " +
              std::to_string(expected[i]) + " outside the band";
    }
  }
  return ok;
}

// The group-boundary near-tie rule (see judge.hpp). Fills `expected` with the oracle's top-k over
// the groups the backend may have kept.
bool groups_plausible(const RouterConfig& cfg, const OracleRow& o, const std::vector<int32_t>& got,
                      double group_band, std::vector<int32_t>* expected, std::string* note) {
  const int64_t per = cfg.experts_per_group();
  const int32_t last = o.kept_groups.back();
  const double last_score = o.group_scores[static_cast<size_t>(last)];
  const double dropped_score = o.group_scores[static_cast<size_t>(o.group_runner_up)];
  std::set<int32_t> groups;
  for (int32_t id : got) groups.insert(static_cast<int32_t>(id / per));
  for (int32_t g : o.kept_groups)  // groups no valid choice drops
    if (order_gap(o.group_scores[static_cast<size_t>(g)], dropped_score) > group_band)
      groups.insert(g);
  if (static_cast<int64_t>(groups.size()) > cfg.topk_groups) {
    *note = "ids need " + std::to_string(groups.size()) + " groups, topk_groups is " +
            std::to_string(cfg.topk_groups);
    return false;
  }
  std::vector<int32_t> candidates;
  for (int32_t g : groups) {
    const double s = o.group_scores[static_cast<size_t>(g)];
    if (!ranks_above(s, g, last_score, last) && g != last && order_gap(s, last_score) > group_band) {
      *note = "group " + std::to_string(g) + " is clearly below the kept groups";
      return false;
    }
    for (int64_t j = 0; j < per; ++j) candidates.push_back(static_cast<int32_t>(g * per + j));
  }
  *expected = top_ranked(o.sel, candidates, cfg.top_k);
  return true;
}

}  // namespace

const char* to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::Exact: return "exact";
    case Verdict::NearTie: return "near-tie";
    case Verdict::Mismatch: return "mismatch";
  }
  return "unknown";
}

int64_t ulp_distance(float a, float b) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb) return na && nb ? 0 : std::numeric_limits<int64_t>::max();
  // Map the sign-magnitude bits onto a line where adjacent floats differ by 1 and -0 == +0.
  const auto ordered = [](float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const int64_t magnitude = static_cast<int64_t>(u & 0x7FFFFFFFu);
    return (u & 0x80000000u) ? -magnitude : magnitude;
  };
  const int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

RowJudgement judge_row(const RouterConfig& cfg, const OracleRow& o, const int32_t* ids,
                       const float* weights, bool ordered) {
  const int64_t k = cfg.top_k, E = cfg.experts;
  if (static_cast<int64_t>(o.ids.size()) != k || static_cast<int64_t>(o.sel.size()) != E)
    fail(ErrorCode::InvalidArgument, "judge_row: the oracle row has ", o.ids.size(), " ids and ",
         o.sel.size(), " experts, the config k = ", k, " and E = ", E);
  const std::vector<int32_t> got(ids, ids + k);
  RowJudgement j;
  const bool valid = distinct_in_range(got, E);

  std::vector<int32_t> got_set = got, expected_set = o.ids;
  std::sort(got_set.begin(), got_set.end());
  std::sort(expected_set.begin(), expected_set.end());
  const bool same_set = got_set == expected_set;
  const bool same = ordered ? got == o.ids : same_set;
  // Weights of rows the oracle cannot judge (non-finite logits) are not compared either.
  j.max_weight_ulp = weights && valid && o.finite ? weight_ulp(o, got, weights) : -1;

  // The boundary the verdict rests on: the smaller of the expert and the group gap.
  j.gap = expert_boundary_gap(o);
  j.band = tie_band(cfg, o, magnitude(o, o.ids.empty() ? -1 : o.ids.back(), o.runner_up));
  double group_band = 0.0;
  const double group_gap = group_boundary_gap(o);
  if (group_gap < std::numeric_limits<double>::infinity()) {
    const double a = o.group_scores[static_cast<size_t>(o.kept_groups.back())];
    const double b = o.group_scores[static_cast<size_t>(o.group_runner_up)];
    group_band = group_tie_band(cfg, o, std::max(abs_or_zero(a), abs_or_zero(b)));
    if (group_gap < j.gap) {
      j.gap = group_gap;
      j.band = group_band;
    }
  }

  std::string note;
  if (!valid) {
    j.ids = Verdict::Mismatch;
    note = "ids not distinct and in [0, " + std::to_string(E) + ")";
  } else if (o.hashed) {
    j.ids = same ? Verdict::Exact : Verdict::Mismatch;
    note = "hash-routed row";
  } else if (!o.finite) {
    j.ids = Verdict::Exact;
    note = "non-finite row";
  } else if (same) {
    j.ids = Verdict::Exact;
  } else {
    std::vector<int32_t> ranked = got;
    if (!ordered) sort_ranked(ranked, o.sel);
    std::vector<int32_t> expected = o.ids;
    bool ok = true;
    if (cfg.group_limited() && group_gap <= group_band) {
      note = "group boundary is a near tie; ";
      std::string why;
      ok = groups_plausible(cfg, o, got, group_band, &expected, &why);
      note += why;
    } else if (cfg.group_limited()) {
      const int64_t per = cfg.experts_per_group();
      for (int32_t id : got) {
        const int32_t g = static_cast<int32_t>(id / per);
        if (std::find(o.kept_groups.begin(), o.kept_groups.end(), g) == o.kept_groups.end()) {
          ok = false;
          note = "id " + std::to_string(id) + " lies in dropped group " + std::to_string(g);
          break;
        }
      }
    }
    if (ok) {
      std::string why;
      ok = within_band(cfg, o, ranked, expected, &j.worst_diff, &why);
      note += why;
    }
    j.ids = ok ? Verdict::NearTie : Verdict::Mismatch;
  }

  j.explain = "row " + std::to_string(o.row) + ": expected " + id_list(o.ids) + " got " +
              id_list(got) + (ordered ? "" : " (as sets)") + "; gap " + num(j.gap) + " vs band " +
              num(j.band);
  if (j.worst_diff > 0) j.explain += "; worst rank diff " + num(j.worst_diff);
  j.explain += "; weight ulp " +
               (j.max_weight_ulp < 0 ? std::string("n/a") : std::to_string(j.max_weight_ulp));
  j.explain += std::string("; ") + to_string(j.ids);
  if (!note.empty()) j.explain += " (" + note + ")";
  return j;
}

BatchJudgement judge_all(const RouterConfig& cfg, const std::vector<OracleRow>& oracle,
                         const int32_t* ids, const float* weights, bool ordered) {
  BatchJudgement b;
  const int64_t k = cfg.top_k;
  for (size_t r = 0; r < oracle.size(); ++r) {
    const int64_t off = static_cast<int64_t>(r) * k;
    const RowJudgement j = judge_row(cfg, oracle[r], ids + off, weights ? weights + off : nullptr, ordered);
    ++b.rows;
    if (!oracle[r].finite && !oracle[r].hashed) ++b.nonfinite;
    b.max_weight_ulp = std::max(b.max_weight_ulp, j.max_weight_ulp);
    switch (j.ids) {
      case Verdict::Exact: ++b.exact; break;
      case Verdict::NearTie: ++b.near_tie; break;
      case Verdict::Mismatch:
        if (b.mismatch++ == 0) {
          b.first_mismatch_row = static_cast<int64_t>(r);
          b.first_mismatch = j.explain;
        }
        break;
    }
  }
  return b;
}

}  // namespace moerouter::reference
