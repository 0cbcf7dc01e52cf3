// The pieces of the extension module moerouter._moerouter, one file each.
#pragma once
#include <pybind11/pybind11.h>

namespace moerouter::python {

void bind_config(pybind11::module_& m);  // Config, preset(), presets()
void bind_router(pybind11::module_& m);  // _Router (the Python Router in router.py wraps it)
void bind_check(pybind11::module_& m);   // _check(), CheckReport, Disagreement
void bind_debug(pybind11::module_& m);   // _view_info(): what an import sees (zero-copy tests)

}  // namespace moerouter::python
