// moerouter::Error as the Python exception moerouter.Error (a RuntimeError subclass, like the C++
// class derives from std::runtime_error) with a `.code` attribute: the ErrorCode's name.
#pragma once
#include <pybind11/pybind11.h>

namespace moerouter::python {

// Creates moerouter.Error in `m` and registers the C++ -> Python translation.
void register_errors(pybind11::module_& m);

}  // namespace moerouter::python
