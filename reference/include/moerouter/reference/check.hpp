// Judging someone else's routing results against the float64 oracle: the library behind
// `moerouter check` (and the Python module's moerouter.check). A kernel author hands in the
// inputs and the ids / weights their router produced; the report says, row by row, whether the
// ids are exact, a near tie the numerics allow (judge.hpp), or a real mismatch, and how far the
// weights are from the oracle's.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "moerouter/reference/generate.hpp"
#include "moerouter/reference/judge.hpp"
#include "moerouter/tensor.hpp"

namespace moerouter::reference {

// Why 4096: an FP32 router's weights sit within a few hundred ulp of the float64 ones even for
// logits with heavy cancellation (the error grows with the logit error, ~1e-6 relative), while
// the bugs worth catching (a wrong scale, weights taken from sel instead of act, no
// renormalization, weights rounded to bfloat16: 2^15 ulp) are far above it.
inline constexpr int64_t kDefaultMaxWeightUlp = 4096;

struct CheckOptions {
  bool ordered = true;    // false: ids compared as sets (kernels that do not rank their top-k)
  int64_t sample = 0;     // judge this many rows spread evenly over the batch; 0 = every row
  // A row whose ids are right but whose weights are further than this from the oracle's
  // (rounded to float) fails as a weight error. Negative: weights are reported, never judged.
  int64_t max_weight_ulp = kDefaultMaxWeightUlp;
  int64_t max_report = 20;  // rows kept in CheckReport::reported
  // Called after each judged row with (rows done, rows to judge), from several threads at once:
  // must be thread-safe. For progress bars on long runs (the oracle is slow).
  std::function<void(int64_t, int64_t)> progress;
};

// One row that is not plainly right: a mismatch, a weight error or a near tie.
struct CheckedRow {
  int64_t row = -1;
  Verdict verdict = Verdict::Exact;
  bool weight_error = false;
  std::vector<int32_t> expected, got;  // the oracle's ids and theirs
  RowJudgement judgement;              // gap, band, worst rank difference, weight ulp, explain
};

struct CheckReport {
  int64_t rows = 0;           // rows in the batch
  int64_t judged = 0;         // rows compared with the oracle (all, or the sample)
  int64_t exact = 0, near_tie = 0, mismatch = 0;
  int64_t weight_errors = 0;  // ids fine, weights beyond max_weight_ulp
  int64_t nonfinite = 0;      // rows with non-finite logits: ids only checked for range
  int64_t max_weight_ulp = 0;       // over the rows where it is meaningful
  int64_t max_weight_ulp_row = -1;
  int64_t weight_tolerance = kDefaultMaxWeightUlp;  // the option used (negative: not judged)
  bool ordered = true;
  // Mismatches, then weight errors, then near ties, each in row order; at most max_report.
  std::vector<CheckedRow> reported;
  int64_t not_reported = 0;   // disagreements beyond max_report

  bool passed() const { return mismatch == 0 && weight_errors == 0; }
  std::string summary() const;  // one line of counts
  std::string details() const;  // one line per reported row (the judge's explanation)
};

// ids [N, k] I32 or I64 (int64 values outside int32 are judged as the out-of-range id -1),
// weights [N, k] F32 or nothing; host memory, any strides. N and k must match the problem.
// Throws Error(ShapeMismatch / DtypeMismatch / DeviceMismatch) naming the argument.
CheckReport check_routing(const Problem& problem, const TensorView& ids,
                          const std::optional<TensorView>& weights, const CheckOptions& options = {});

// The rows a sample of `sample` rows of n judges: evenly strided, first row 0; all when
// sample <= 0 or sample >= n.
std::vector<int64_t> sample_rows(int64_t n, int64_t sample);

}  // namespace moerouter::reference
