// The router epilogue (everything after the logits), one row at a time. The same code runs on every
// backend (host and device), so given identical logits every backend writes identical bits.
#pragma once
#include <cstdint>

#include "moerouter/config.hpp"
#include "moerouter/fmath.hpp"

namespace moerouter::epilogue {

struct Params {
  int64_t experts;
  int top_k;
  ScoreFn score;
  int groups;       // 1 = no group limit
  int topk_groups;
  bool renormalize;
  float scale;
  const float* bias;  // [E] or nullptr; selection only

  static Params from(const RouterConfig& c, const float* bias) {
    return Params{c.experts, c.top_k, c.score, c.groups, c.topk_groups, c.renormalize, c.scale, bias};
  }
};

// The total order of DESIGN.md §2: higher value first; equal values -> lower index first; NaN
// below every number (and among NaNs, lower index first). Returns true when (va, ia) ranks above
// (vb, ib).
MR_HD bool ranks_above(float va, int64_t ia, float vb, int64_t ib) {
  const bool na = fmath::is_nan(va), nb = fmath::is_nan(vb);
  if (na != nb) return nb;
  if (!na && va != vb) return va > vb;
  return ia < ib;
}

MR_HD bool row_is_finite(const float* logits, int64_t E) {
  for (int64_t e = 0; e < E; ++e)
    if (!fmath::is_finite(logits[e])) return false;
  return true;
}

// exp(a - b) without the rounding error of a - b: the FP32 difference d = a - b carries an error
// of up to |d| * 2^-24 absolute, which exp turns into as much *relative* error (8 ulp for |d| = 8).
// TwoSum recovers the exact error r (a - b = d + r), and exp(d + r) = exp(d) * (1 + r) to far
// below an ulp, so one fmaf restores it.
MR_HD float exp_of_difference(float a, float b) {
  const float nb = -b;
  const float d = a + nb;
  const float bv = d - a;
  const float r = (a - (d - bv)) + (nb - bv);
  const float e = fmath::exp_f32(d);
  if (!fmath::is_finite(d) || !fmath::is_finite(r)) return e;
  return fmath::fma(e, r, e);
}

// act[e] = score_fn(logits[e]). Softmax: max, exp(l - max), compensated sum in ascending expert
// order, divide.
MR_HD void activate_row(const float* logits, int64_t E, ScoreFn score, float* act) {
  if (score == ScoreFn::SqrtSoftplus) {
    for (int64_t e = 0; e < E; ++e) act[e] = fmath::sqrtsoftplus_f32(logits[e]);
  } else if (score == ScoreFn::Sigmoid) {
    for (int64_t e = 0; e < E; ++e) act[e] = fmath::sigmoid_f32(logits[e]);
  } else {
    float m = logits[0];
    bool any_nan = fmath::is_nan(m);
    for (int64_t e = 1; e < E; ++e) {
      any_nan = any_nan || fmath::is_nan(logits[e]);
      if (logits[e] > m) m = logits[e];
    }
    if (any_nan) {
      for (int64_t e = 0; e < E; ++e) act[e] = fmath::canonical_nan();
      return;
    }
    // The denominator is summed in ascending expert order with Neumaier's compensation: a plain
    // FP32 sum of up to 1024 terms would cost the weights several ulp (measured 5-6 ulp at E=96),
    // compensation keeps them within the contract's 4 ulp. Same code, same bits on every backend.
    float sum = 0.0f, compensation = 0.0f;
    for (int64_t e = 0; e < E; ++e) {
      const float v = exp_of_difference(logits[e], m);  // +inf max: inf - inf = NaN -> canonical NaN
      act[e] = v;
      const float t = sum + v;
      if ((sum < 0.0f ? -sum : sum) >= v) compensation = compensation + ((sum - t) + v);
      else compensation = compensation + ((v - t) + sum);
      sum = t;
    }
    sum = sum + compensation;
    for (int64_t e = 0; e < E; ++e) act[e] = fmath::canonicalize(act[e] / sum);
  }
}

MR_HD float selection_score(const float* act, const float* bias, int64_t e) {
  return bias ? act[e] + bias[e] : act[e];
}

// Inserts (v, id) into the ranked list (best first) of length *count <= cap.
MR_HD void insert_ranked(float v, int32_t id, float* vals, int32_t* ids, int* count, int cap) {
  int pos = *count;
  if (pos == cap) {
    if (!ranks_above(v, id, vals[cap - 1], ids[cap - 1])) return;
    pos = cap - 1;
  } else {
    *count = pos + 1;
  }
  while (pos > 0 && ranks_above(v, id, vals[pos - 1], ids[pos - 1])) {
    vals[pos] = vals[pos - 1];
    ids[pos] = ids[pos - 1];
    --pos;
  }
  vals[pos] = v;
  ids[pos] = id;
}

// Group-limited selection: marks the topk_groups best groups in `allowed` (one flag per group).
// A group's score is the sum of its two best sel (its only one when a group has one expert).
MR_HD void select_groups(const float* act, const Params& p, bool* allowed) {
  const int64_t per_group = p.experts / p.groups;
  float best_vals[kMaxTopK];
  int32_t best_ids[kMaxTopK];
  int best_count = 0;
  const int keep = p.topk_groups;
  for (int g = 0; g < p.groups; ++g) {
    float top_vals[2];
    int32_t top_ids[2];
    int top_count = 0;
    for (int64_t j = 0; j < per_group; ++j) {
      const int64_t e = g * per_group + j;
      insert_ranked(selection_score(act, p.bias, e), static_cast<int32_t>(e), top_vals, top_ids,
                    &top_count, 2);
    }
    const float score = top_count == 2 ? top_vals[0] + top_vals[1] : top_vals[0];
    allowed[g] = false;
    if (keep <= kMaxTopK) insert_ranked(score, g, best_vals, best_ids, &best_count, keep);
  }
  for (int i = 0; i < best_count; ++i) allowed[best_ids[i]] = true;
}

// ids_out[0..k) = the k best experts by sel, rank order. `group_flags` is scratch of `groups` bools.
MR_HD void select_topk(const float* act, const Params& p, bool* group_flags, int32_t* ids_out) {
  float vals[kMaxTopK];
  int count = 0;
  if (p.groups > 1) {
    select_groups(act, p, group_flags);
    const int64_t per_group = p.experts / p.groups;
    for (int64_t e = 0; e < p.experts; ++e)
      if (group_flags[e / per_group])
        insert_ranked(selection_score(act, p.bias, e), static_cast<int32_t>(e), vals, ids_out,
                      &count, p.top_k);
  } else {
    for (int64_t e = 0; e < p.experts; ++e)
      insert_ranked(selection_score(act, p.bias, e), static_cast<int32_t>(e), vals, ids_out, &count,
                    p.top_k);
  }
}

// weights_out[i] = renormalize ? (w_i / (sum + 1e-20f)) * scale : w_i * scale, w_i = act[ids[i]]
// (the unbiased activation); sum accumulated in rank order.
MR_HD void gather_weights(const float* act, const int32_t* ids, const Params& p, float* weights_out) {
  if (p.renormalize) {
    float sum = 0.0f;
    for (int i = 0; i < p.top_k; ++i) sum = sum + act[ids[i]];
    const float denom = sum + kRenormEpsilon;
    for (int i = 0; i < p.top_k; ++i)
      weights_out[i] = fmath::canonicalize((act[ids[i]] / denom) * p.scale);
  } else {
    for (int i = 0; i < p.top_k; ++i) weights_out[i] = fmath::canonicalize(act[ids[i]] * p.scale);
  }
}

}  // namespace moerouter::epilogue
