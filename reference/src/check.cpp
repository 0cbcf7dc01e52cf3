#include "moerouter/reference/check.hpp"

#include <algorithm>
#include <atomic>
#include <limits>

#include "moerouter/error.hpp"
#include "moerouter/reference/oracle.hpp"
#include "moerouter/reference/parallel_rows.hpp"

namespace moerouter::reference {

namespace {

void check_output_view(const TensorView& v, const char* what, int64_t n, int64_t k) {
  if (v.device != DeviceType::Cpu)
    fail_arg(ErrorCode::DeviceMismatch, what, "host memory", std::string(to_string(v.device)) + " memory");
  if (v.ndim != 2 || v.shape[0] != n || v.shape[1] != k)
    fail_arg(ErrorCode::ShapeMismatch, what, "[" + std::to_string(n) + ", " + std::to_string(k) + "]",
             v.shape_string());
  if (n * k > 0 && !v.data) fail_arg(ErrorCode::InvalidArgument, what, "data", "a null pointer");
}

template <class T>
T at(const TensorView& v, int64_t i, int64_t j) {
  T value;
  const int64_t offset = (i * v.strides[0] + j * v.strides[1]) * static_cast<int64_t>(sizeof(T));
  __builtin_memcpy(&value, static_cast<const char*>(v.data) + offset, sizeof(T));
  return value;
}

// One row of their ids as int32, whatever they were stored as.
std::vector<int32_t> row_ids(const TensorView& ids, int64_t row, int64_t k) {
  std::vector<int32_t> out(static_cast<size_t>(k));
  for (int64_t j = 0; j < k; ++j) {
    if (ids.dtype == DType::I32) {
      out[j] = at<int32_t>(ids, row, j);
    } else {
      const int64_t v = at<int64_t>(ids, row, j);
      const bool fits = v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
      out[j] = fits ? static_cast<int32_t>(v) : -1;
    }
  }
  return out;
}

std::string count_of(int64_t n, const char* what) { return std::to_string(n) + " " + what; }

}  // namespace

std::vector<int64_t> sample_rows(int64_t n, int64_t sample) {
  const int64_t rows = sample <= 0 ? n : std::min(n, sample);
  std::vector<int64_t> out(static_cast<size_t>(std::max<int64_t>(rows, 0)));
  // i * n / rows: evenly spread, so the start and the end of a batch are both represented.
  for (int64_t i = 0; i < rows; ++i) out[static_cast<size_t>(i)] = rows == n ? i : i * n / rows;
  return out;
}

CheckReport check_routing(const Problem& p, const TensorView& ids,
                          const std::optional<TensorView>& weights, const CheckOptions& opt) {
  const int64_t n = p.n, k = p.cfg.top_k;
  check_output_view(ids, "ids", n, k);
  if (ids.dtype != DType::I32 && ids.dtype != DType::I64)
    fail_arg(ErrorCode::DtypeMismatch, "ids", "int32 or int64", to_string(ids.dtype));
  if (weights) {
    check_output_view(*weights, "weights", n, k);
    if (weights->dtype != DType::F32)
      fail_arg(ErrorCode::DtypeMismatch, "weights", "float32", to_string(weights->dtype));
  }

  const std::vector<int64_t> rows = sample_rows(n, opt.sample);
  const auto count = static_cast<int64_t>(rows.size());
  std::vector<CheckedRow> judged(rows.size());
  std::vector<char> finite(rows.size(), 1);
  std::atomic<int64_t> done{0};
  parallel_rows(count, [&](int64_t i) {
    const int64_t row = rows[static_cast<size_t>(i)];
    const OracleRow o = route_row(p, row);
    CheckedRow& c = judged[static_cast<size_t>(i)];
    c.row = row;
    c.expected = o.ids;
    c.got = row_ids(ids, row, k);
    std::vector<float> w;
    if (weights)
      for (int64_t j = 0; j < k; ++j) w.push_back(at<float>(*weights, row, j));
    c.judgement = judge_row(p.cfg, o, c.got.data(), weights ? w.data() : nullptr, opt.ordered);
    c.verdict = c.judgement.ids;
    c.weight_error = opt.max_weight_ulp >= 0 && c.verdict != Verdict::Mismatch &&
                     c.judgement.max_weight_ulp > opt.max_weight_ulp;
    finite[static_cast<size_t>(i)] = o.finite || o.hashed;
    if (opt.progress) opt.progress(++done, count);
  });

  CheckReport r;
  r.rows = n;
  r.judged = count;
  r.weight_tolerance = opt.max_weight_ulp;
  r.ordered = opt.ordered;
  std::vector<const CheckedRow*> mismatches, weight_errors, near_ties;
  for (size_t i = 0; i < judged.size(); ++i) {
    const CheckedRow& c = judged[i];
    if (!finite[i]) ++r.nonfinite;
    if (c.judgement.max_weight_ulp > r.max_weight_ulp) {
      r.max_weight_ulp = c.judgement.max_weight_ulp;
      r.max_weight_ulp_row = c.row;
    }
    switch (c.verdict) {
      case Verdict::Exact: ++r.exact; break;
      case Verdict::NearTie: ++r.near_tie; break;
      case Verdict::Mismatch: ++r.mismatch; break;
    }
    if (c.verdict == Verdict::Mismatch) mismatches.push_back(&c);
    else if (c.weight_error) weight_errors.push_back(&c);
    else if (c.verdict == Verdict::NearTie) near_ties.push_back(&c);
  }
  r.weight_errors = static_cast<int64_t>(weight_errors.size());
  for (const auto* list : {&mismatches, &weight_errors, &near_ties})
    for (const CheckedRow* c : *list) {
      if (static_cast<int64_t>(r.reported.size()) < opt.max_report) r.reported.push_back(*c);
      else ++r.not_reported;
    }
  return r;
}

std::string CheckReport::summary() const {
  std::string s = "float64 oracle judged " + std::to_string(judged) + " of " + std::to_string(rows) +
                  " rows" + (ordered ? "" : " (ids as sets)") + ": " + count_of(exact, "exact") +
                  ", " + count_of(near_tie, "near-tie") + ", " + count_of(mismatch, "mismatch") + ", " +
                  count_of(weight_errors, "weight errors");
  s += weight_tolerance >= 0 ? " (> " + std::to_string(weight_tolerance) + " ulp)" : " (not judged)";
  s += "; max weight error " + std::to_string(max_weight_ulp) + " ulp";
  if (max_weight_ulp_row >= 0) s += " (row " + std::to_string(max_weight_ulp_row) + ")";
  if (nonfinite) s += "; " + count_of(nonfinite, "rows with non-finite logits (ids range-checked only)");
  return s;
}

std::string CheckReport::details() const {
  std::string s;
  for (const CheckedRow& c : reported) {
    s += "  ";
    if (c.weight_error) s += "weight error: ";
    s += c.judgement.explain + "\n";
  }
  if (not_reported) s += "  ... and " + std::to_string(not_reported) + " more not shown\n";
  return s;
}

}  // namespace moerouter::reference
