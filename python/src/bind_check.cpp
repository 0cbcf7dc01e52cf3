// _check(): someone else's routing results judged against the float64 oracle
// (reference/check.hpp), and the report classes moerouter.check() returns.
#include <pybind11/stl.h>

#include <string>

#include "bindings.hpp"
#include "dlpack_import.hpp"
#include "moerouter/error.hpp"
#include "moerouter/reference/check.hpp"
#include "moerouter/reference/from_tensors.hpp"

namespace moerouter::python {

namespace py = pybind11;
using reference::CheckedRow;
using reference::CheckReport;

namespace {

CheckReport check(const RouterConfig& cfg, py::handle x, py::handle weight, py::handle bias,
                  py::handle token_ids, py::handle hash_table, py::handle their_ids,
                  py::handle their_weights, bool ordered, int64_t sample, int64_t max_weight_ulp,
                  int64_t max_report, bool x_bf16_bits, bool weight_bf16_bits) {
  ImportOptions xo, wo;
  xo.bf16_bits = x_bf16_bits;
  wo.bf16_bits = weight_bf16_bits;
  const Imported xv = import_tensor(x, "x", xo);
  const Imported wv = import_tensor(weight, "weight", wo);
  const std::optional<Imported> bv = import_optional(bias, "bias");
  const std::optional<Imported> tv = import_optional(token_ids, "token_ids");
  const std::optional<Imported> hv = import_optional(hash_table, "hash_table");
  const Imported iv = import_tensor(their_ids, "their_ids");
  const std::optional<Imported> ov = import_optional(their_weights, "their_weights");

  reference::CheckOptions options;
  options.ordered = ordered;
  options.sample = sample;
  options.max_weight_ulp = max_weight_ulp;
  options.max_report = max_report;
  // The oracle is slow (and runs on every core): let other Python threads go on meanwhile.
  py::gil_scoped_release nogil;
  const reference::Problem problem =
      reference::problem_from_tensors(cfg, xv.view, wv.view, view_of(bv), view_of(tv), view_of(hv));
  try {
    return reference::check_routing(problem, iv.view, view_of(ov), options);
  } catch (const Error& e) {
    // check_routing names its arguments "ids" and "weights"; the Python caller passed
    // their_ids / their_weights.
    std::string msg = e.what();
    const std::string prefix = std::string(to_string(e.code())) + ": ";
    if (msg.rfind(prefix, 0) == 0) msg.erase(0, prefix.size());
    if (msg.rfind("ids", 0) == 0 || msg.rfind("weights", 0) == 0) msg = "their_" + msg;
    throw Error(e.code(), msg);
  }
}

std::string row_repr(const CheckedRow& r) {
  return "Disagreement(row=" + std::to_string(r.row) + ", verdict='" + to_string(r.verdict) +
         "'" + (r.weight_error ? ", weight_error=True" : "") + ")";
}

}  // namespace

void bind_check(py::module_& m) {
  py::class_<CheckedRow>(m, "Disagreement",
                         "One row that is not plainly right: a mismatch, a weight error or a near tie.")
      .def_readonly("row", &CheckedRow::row)
      .def_property_readonly("verdict", [](const CheckedRow& r) { return std::string(to_string(r.verdict)); },
                             "'exact', 'near-tie' or 'mismatch' (the ids' verdict).")
      .def_readonly("weight_error", &CheckedRow::weight_error,
                    "ids right, weights further from the oracle's than max_weight_ulp.")
      .def_readonly("expected", &CheckedRow::expected, "The oracle's ids, rank order.")
      .def_readonly("got", &CheckedRow::got, "The ids judged.")
      .def_property_readonly("gap", [](const CheckedRow& r) { return r.judgement.gap; },
                             "The oracle's relevant score gap (rank k vs k+1, or the group boundary).")
      .def_property_readonly("band", [](const CheckedRow& r) { return r.judgement.band; },
                             "The near-tie band that gap is compared with.")
      .def_property_readonly("worst_diff", [](const CheckedRow& r) { return r.judgement.worst_diff; })
      .def_property_readonly("max_weight_ulp", [](const CheckedRow& r) { return r.judgement.max_weight_ulp; },
                             "Largest weight error in float ulp (-1: not meaningful).")
      .def_property_readonly("explain", [](const CheckedRow& r) { return r.judgement.explain; })
      .def("__str__", [](const CheckedRow& r) { return r.judgement.explain; })
      .def("__repr__", &row_repr);

  py::class_<CheckReport>(m, "CheckReport", R"doc(
The verdict of moerouter.check(): counts over the judged rows and the rows worth a look.
`assert report.ok, report` prints every reported disagreement when it fails.
)doc")
      .def_readonly("rows", &CheckReport::rows, "Rows in the batch.")
      .def_readonly("judged", &CheckReport::judged, "Rows compared (all, or the sample).")
      .def_readonly("exact", &CheckReport::exact)
      .def_readonly("near_tie", &CheckReport::near_tie)
      .def_readonly("mismatch", &CheckReport::mismatch)
      .def_readonly("weight_errors", &CheckReport::weight_errors)
      .def_readonly("nonfinite", &CheckReport::nonfinite,
                    "Rows with non-finite logits: ids only range-checked.")
      .def_readonly("max_weight_ulp", &CheckReport::max_weight_ulp)
      .def_readonly("max_weight_ulp_row", &CheckReport::max_weight_ulp_row)
      .def_readonly("weight_tolerance", &CheckReport::weight_tolerance)
      .def_readonly("ordered", &CheckReport::ordered)
      .def_readonly("disagreements", &CheckReport::reported,
                    "Mismatches, then weight errors, then near ties (each in row order), at most "
                    "max_report of them.")
      .def_readonly("not_reported", &CheckReport::not_reported)
      .def_property_readonly("ok", &CheckReport::passed, "No mismatch and no weight error.")
      .def("summary", &CheckReport::summary)
      .def("details", &CheckReport::details)
      .def("__str__",
           [](const CheckReport& r) {
             std::string s = r.summary() + "\n" + r.details();
             while (!s.empty() && s.back() == '\n') s.pop_back();
             return s;
           })
      .def("__repr__", [](const CheckReport& r) {
        return "<moerouter.CheckReport ok=" + std::string(r.passed() ? "True" : "False") + ": " +
               r.summary() + ">";
      });

  m.def("_check", &check, py::arg("config"), py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("token_ids"), py::arg("hash_table"), py::arg("their_ids"), py::arg("their_weights"),
        py::arg("ordered"), py::arg("sample"), py::arg("max_weight_ulp"), py::arg("max_report"),
        py::arg("x_bf16_bits"), py::arg("weight_bf16_bits"));
  m.attr("DEFAULT_MAX_WEIGHT_ULP") = reference::kDefaultMaxWeightUlp;
}

}  // namespace moerouter::python
