// _Router: one C++ Router (one backend, one device) with route_into(), which routes into outputs
// the caller allocated. Allocation, device choice and streams live in the Python layer
// (moerouter/router.py), which knows torch / numpy / cupy; this file knows only DLPack.
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

#include "bindings.hpp"
#include "dlpack_import.hpp"
#include "moerouter/error.hpp"
#include "moerouter/registry.hpp"
#if defined(MOEROUTER_WITH_CUDA)
#include "moerouter/cuda.hpp"
#endif

namespace moerouter::python {

namespace py = pybind11;

namespace {

// RouteStats with owned strings (its `kernel` is a C string owned by the backend).
struct Stats {
  int64_t rows = 0;
  int64_t nonfinite_rows = 0;
  int64_t first_nonfinite_row = -1;
  std::string device, gemm, kernel;
};

int device_id_of(const Router& r) {
#if defined(MOEROUTER_WITH_CUDA)
  if (const auto* c = dynamic_cast<const cuda::CudaRouter*>(&r)) return c->device_id();
#endif
  (void)r;
  return 0;
}

std::optional<GemmMode> gemm_of(const py::object& gemm) {
  if (gemm.is_none()) return std::nullopt;
  return parse_gemm_mode(gemm.cast<std::string>());
}

void set_weights(Router& r, py::handle weight, py::handle bias, bool weight_bf16_bits) {
  ImportOptions wopt;
  wopt.bf16_bits = weight_bf16_bits;
  const Imported w = import_tensor(weight, "weight", wopt);
  const std::optional<Imported> b = import_optional(bias, "bias");
  py::gil_scoped_release nogil;  // packing a large W takes a while; the views stay alive above
  r.set_weights(w.view, view_of(b));
}

// Every array argument is imported (and so checked for dtype/device/rank) before the router
// checks shapes and writes anything; an error leaves the outputs untouched.
Stats route_into(Router& r, py::handle x, py::handle weights_out, py::handle ids_out,
                 py::handle counts_out, py::handle logits_out, py::handle expert_offsets_out,
                 py::handle token_slots_out, py::handle token_ids, py::handle hash_table,
                 const py::object& gemm, bool validate, bool sync_stats, int threads, const py::object& stream,
                 const py::object& dlpack_stream, bool x_bf16_bits) {
  ImportOptions in;
  if (!dlpack_stream.is_none()) in.dlpack_stream = dlpack_stream.cast<int64_t>();
  ImportOptions out = in;
  out.writable = true;
  ImportOptions x_in = in;
  x_in.bf16_bits = x_bf16_bits;

  const Imported xv = import_tensor(x, "x", x_in);
  const std::optional<Imported> tok = import_optional(token_ids, "token_ids", in);
  const std::optional<Imported> table = import_optional(hash_table, "hash_table", in);
  const Imported wv = import_tensor(weights_out, "weights_out", out);
  const Imported iv = import_tensor(ids_out, "ids_out", out);
  const std::optional<Imported> cv = import_optional(counts_out, "counts_out", out);
  const std::optional<Imported> lv = import_optional(logits_out, "logits_out", out);
  const std::optional<Imported> ov = import_optional(expert_offsets_out, "expert_offsets_out", out);
  const std::optional<Imported> sv = import_optional(token_slots_out, "token_slots_out", out);

  RouteOptions o;
  o.stream = stream.is_none() ? nullptr : reinterpret_cast<void*>(stream.cast<intptr_t>());
  o.gemm = gemm_of(gemm);
  o.threads = threads;
  o.validate = validate;
  o.sync_stats = sync_stats;
  o.token_ids = view_of(tok);
  o.hash_table = view_of(table);
  o.counts_out = view_of(cv);
  o.logits_out = view_of(lv);
  o.expert_offsets_out = view_of(ov);
  o.token_slots_out = view_of(sv);

  RouteStats s;
  {
    // Routing a large batch on the CPU takes long: let other Python threads run meanwhile.
    py::gil_scoped_release nogil;
    s = r.route(xv.view, wv.view, iv.view, o);
  }
  return Stats{s.rows, s.nonfinite_rows, s.first_nonfinite_row, to_string(s.device),
               to_string(s.gemm), s.kernel ? s.kernel : ""};
}

}  // namespace

void bind_router(py::module_& m) {
  py::class_<Stats>(m, "RouteStats", "What one route() call did.")
      .def_readonly("rows", &Stats::rows)
      .def_readonly("nonfinite_rows", &Stats::nonfinite_rows,
                    "Rows whose logits hold NaN or inf (-1: not counted: CUDA device tensors without sync_stats).")
      .def_readonly("first_nonfinite_row", &Stats::first_nonfinite_row)
      .def_readonly("device", &Stats::device)
      .def_readonly("gemm", &Stats::gemm)
      .def_readonly("kernel", &Stats::kernel, "Which code path ran.")
      .def("__repr__", [](const Stats& s) {
        return "RouteStats(rows=" + std::to_string(s.rows) +
               ", nonfinite_rows=" + std::to_string(s.nonfinite_rows) +
               ", first_nonfinite_row=" + std::to_string(s.first_nonfinite_row) + ", device='" +
               s.device + "', gemm='" + s.gemm + "', kernel='" + s.kernel + "')";
      });

  py::class_<Router, std::unique_ptr<Router>>(m, "_Router")
      // make_router picks the device's backend; a CUDA router lives on the current CUDA device.
      .def(py::init([](const RouterConfig& cfg, const std::string& device) {
             return make_router(cfg, parse_device(device));
           }),
           py::arg("config"), py::arg("device"))
      .def_property_readonly("config", [](const Router& r) { return r.config(); })
      .def_property_readonly("device", [](const Router& r) { return std::string(to_string(r.device())); })
      .def_property_readonly("device_id", &device_id_of)
      .def_property_readonly("backend_name", [](const Router& r) { return std::string(r.backend_name()); })
      .def("supports", [](const Router& r, const std::string& gemm) { return r.supports(parse_gemm_mode(gemm)); },
           py::arg("gemm"))
      .def("set_weights", &set_weights, py::arg("weight"), py::arg("bias") = py::none(),
           py::arg("weight_bf16_bits") = false)
      .def("route_into", &route_into, py::arg("x"), py::arg("weights_out"), py::arg("ids_out"),
           py::kw_only(), py::arg("counts_out") = py::none(), py::arg("logits_out") = py::none(),
           py::arg("expert_offsets_out") = py::none(), py::arg("token_slots_out") = py::none(),
           py::arg("token_ids") = py::none(), py::arg("hash_table") = py::none(),
           py::arg("gemm") = py::none(), py::arg("validate") = false, py::arg("sync_stats") = false, py::arg("threads") = 0,
           py::arg("stream") = py::none(), py::arg("dlpack_stream") = py::none(),
           py::arg("x_bf16_bits") = false);

  m.def("device_available", [](const std::string& d) { return device_available(parse_device(d)); },
        py::arg("device"),
        "Whether a Router can be made for 'cpu' or 'cuda' (built in and, for CUDA, a device present).");
}

}  // namespace moerouter::python
