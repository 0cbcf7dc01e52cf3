// The threshold-filter top-k shared by topk_avx2.cpp and topk_avx512.cpp. Each includes this with
// a traits struct `Lanes` in scope:
//   Lanes::kWidth                                   experts per vector (8 or 16)
//   Lanes::Vec Lanes::load(act, bias, e0, n)        sel = act + bias (bias may be null) for lanes
//                                                   [0, n), the same IEEE add as
//                                                   epilogue::selection_score; other lanes arbitrary
//   uint32_t Lanes::beats(Vec v, float threshold)   lanes whose value ranks above `threshold` held
//                                                   by a LOWER expert index (see below)
//
// Why it is exact: experts are visited in ascending index order and every candidate goes through
// epilogue::insert_ranked, the same insertion select_topk uses, so the list always holds the k best
// of the experts visited so far under the total order. A lane is skipped only when insert_ranked
// would reject it: with k entries held, candidate (v, e) enters iff it ranks above the k-th entry
// (t, i), and since i < e a tie on value loses, so it enters iff
//   t is NaN:     v is not NaN;
//   t is a number: v > t (false for a NaN v, and -0 == +0 is a tie).
// That is exactly Lanes::beats.
#include "moerouter/config.hpp"

namespace moerouter::cpu {
namespace {

// Lanes [0, n) of the vector at e0 whose group is allowed (group-limited routing).
uint32_t allowed_lanes(const bool* group_flags, int64_t per_group, int64_t e0, int n) {
  uint32_t m = 0;
  for (int j = 0; j < n; ++j)
    if (group_flags[(e0 + j) / per_group]) m |= 1u << j;
  return m;
}

void select_topk_filtered(const float* act, const epilogue::Params& p, bool* group_flags,
                          int32_t* ids_out) {
  const int64_t E = p.experts;
  const int k = p.top_k;
  const bool grouped = p.groups > 1;
  const int64_t per_group = E / p.groups;
  if (grouped) epilogue::select_groups(act, p, group_flags);
  float vals[kMaxTopK];
  int count = 0;
  for (int64_t e0 = 0; e0 < E; e0 += Lanes::kWidth) {
    const int n = E - e0 < Lanes::kWidth ? static_cast<int>(E - e0) : Lanes::kWidth;
    uint32_t m = n == 32 ? ~0u : (1u << n) - 1u;
    if (grouped) m &= allowed_lanes(group_flags, per_group, e0, n);
    if (m == 0) continue;
    const auto v = Lanes::load(act, p.bias, e0, n);
    if (count == k) m &= Lanes::beats(v, vals[k - 1]);
    while (m != 0) {
      const int j = __builtin_ctz(m);
      m &= m - 1u;
      const int64_t e = e0 + j;
      epilogue::insert_ranked(epilogue::selection_score(act, p.bias, e), static_cast<int32_t>(e),
                              vals, ids_out, &count, k);
      // The k-th best only rises: drop the remaining lanes that can no longer enter.
      if (count == k && m != 0) m &= Lanes::beats(v, vals[k - 1]);
    }
  }
}

}  // namespace
}  // namespace moerouter::cpu
