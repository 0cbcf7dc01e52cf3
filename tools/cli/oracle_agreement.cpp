#include "cli/oracle_agreement.hpp"

#include <algorithm>

#include "cli/parallel_rows.hpp"
#include "moerouter/reference/judge.hpp"
#include "moerouter/reference/oracle.hpp"

namespace moerouter::cli {

OracleAgreement agree_with_oracle(const reference::Problem& p, const std::vector<int32_t>& ids,
                                  const std::vector<float>& weights, int64_t sample) {
  OracleAgreement a;
  const int64_t n = p.n, k = p.cfg.top_k;
  const int64_t rows = std::min(n, sample);
  // Evenly spaced rows, so the first and last parts of the batch are both represented.
  const auto row_of = [&](int64_t i) { return rows == n ? i : i * n / rows; };
  std::vector<reference::RowJudgement> judged(static_cast<size_t>(rows));
  parallel_rows(rows, [&](int64_t i) {
    const int64_t row = row_of(i);
    const reference::OracleRow oracle = reference::route_row(p, row);
    judged[i] = reference::judge_row(p.cfg, oracle, ids.data() + row * k, weights.data() + row * k);
  });
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t row = row_of(i);
    const reference::RowJudgement& j = judged[i];
    ++a.rows;
    switch (j.ids) {
      case reference::Verdict::Exact:
        ++a.exact;
        a.max_weight_ulp = std::max(a.max_weight_ulp, j.max_weight_ulp);
        break;
      case reference::Verdict::NearTie:
        ++a.near_tie;
        break;
      case reference::Verdict::Mismatch:
        if (a.mismatch++ == 0) a.first_mismatch = "row " + std::to_string(row) + ": " + j.explain;
        break;
    }
  }
  return a;
}

std::string format_agreement(const OracleAgreement& a) {
  std::string s = "float64 oracle on " + std::to_string(a.rows) + " sampled rows: " +
                  std::to_string(a.exact) + " exact, " + std::to_string(a.near_tie) +
                  " near-tie, " + std::to_string(a.mismatch) + " mismatch; max weight error on " +
                  "exact rows " + std::to_string(a.max_weight_ulp) + " ulp\n";
  if (a.mismatch) s += "  first mismatch: " + a.first_mismatch + "\n";
  return s;
}

}  // namespace moerouter::cli
