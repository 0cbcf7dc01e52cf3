#include "errors.hpp"

#include "moerouter/error.hpp"

namespace moerouter::python {

namespace py = pybind11;

void register_errors(py::module_& m) {
  // Leaked on purpose: the translator may run during interpreter shutdown, after module teardown.
  static py::exception<Error>* error_type =
      new py::exception<Error>(m, "Error", PyExc_RuntimeError);
  error_type->doc() =
      "Raised for every moerouter error. `code` names the C++ moerouter::ErrorCode "
      "('shape_mismatch', 'dtype_mismatch', 'invalid_argument', ...); the message names the "
      "argument, the expected and the actual value. Outputs are never produced on error.";
  // The class-level default, so `Error("...")` raised from Python code has a code too.
  error_type->attr("code") = "internal";

  // Every code's name, for callers that want to match on them.
  py::list codes;
  for (int c = static_cast<int>(ErrorCode::InvalidArgument); c <= static_cast<int>(ErrorCode::Internal); ++c)
    codes.append(to_string(static_cast<ErrorCode>(c)));
  m.attr("ERROR_CODES") = py::tuple(codes);

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      // An instance with `.code` set, rather than PyErr_SetString, so handlers can read the code.
      py::object instance = py::handle(error_type->ptr())(py::str(e.what()));
      instance.attr("code") = to_string(e.code());
      PyErr_SetObject(error_type->ptr(), instance.ptr());
    }
  });
}

}  // namespace moerouter::python
