// _view_info(): the TensorView an argument becomes, so tests can prove imports are zero-copy (the
// data pointer is the caller's own) and see strides, dtype and device as the router sees them.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings.hpp"
#include "dlpack_import.hpp"

namespace moerouter::python {

namespace py = pybind11;

void bind_debug(py::module_& m) {
  m.def(
      "_view_info",
      [](py::handle obj, bool bf16_bits, const std::string& name) {
        ImportOptions o;
        o.bf16_bits = bf16_bits;
        const Imported t = import_tensor(obj, name, o);
        const TensorView& v = t.view;
        py::dict d;
        d["data"] = reinterpret_cast<uintptr_t>(v.data);
        d["dtype"] = to_string(v.dtype);
        d["shape"] = std::vector<int64_t>(v.shape, v.shape + v.ndim);
        d["strides"] = std::vector<int64_t>(v.strides, v.strides + v.ndim);
        d["device"] = to_string(v.device);
        d["device_id"] = v.device_id;
        d["via"] = t.buffer ? "buffer" : "dlpack";
        return d;
      },
      py::arg("obj"), py::arg("bf16_bits") = false, py::arg("name") = "tensor");
}

}  // namespace moerouter::python
