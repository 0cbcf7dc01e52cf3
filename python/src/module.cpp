// The extension module moerouter._moerouter. Users import the package `moerouter`
// (python/moerouter/__init__.py), which wraps this module with device, stream and allocation
// handling for torch, numpy and cupy.
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "errors.hpp"
#include "moerouter/config.hpp"

PYBIND11_MODULE(_moerouter, m) {
  m.doc() = "moerouter: the Mixture-of-Experts router (C++ core; use the `moerouter` package)";
  m.attr("__version__") = MOEROUTER_VERSION;
  moerouter::python::register_errors(m);
  moerouter::python::bind_config(m);
  moerouter::python::bind_router(m);
  moerouter::python::bind_check(m);
  moerouter::python::bind_debug(m);
}
