// Python objects -> moerouter::TensorView without copying. The DLPack protocol first (torch,
// numpy >= 1.22, cupy, jax, ...), then a bare "dltensor" capsule (torch.utils.dlpack.to_dlpack),
// then the buffer protocol (read-only numpy arrays, which numpy refuses to export through DLPack;
// array.array; memoryview). Never a conversion: an unsupported dtype or device is an error.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "moerouter/tensor.hpp"

namespace moerouter::python {

namespace py = pybind11;

// A view and whatever keeps its memory alive. Holds Python references: destroy with the GIL held.
struct Imported {
  TensorView view;
  py::object owner;                        // the DLPack capsule or the exporting object
  std::unique_ptr<py::buffer_info> buffer;  // buffer-protocol imports: releases the Py_buffer
};

struct ImportOptions {
  // Accept uint16 elements as raw bfloat16 bits (numpy has no bfloat16; see moerouter.bf16_bits).
  bool bf16_bits = false;
  // The stream the data will be used on, handed to __dlpack__(stream=...) for CUDA tensors so the
  // producer orders its pending work before ours (DLPack: -1 = no sync, 1 = legacy default).
  std::optional<int64_t> dlpack_stream;
  bool writable = false;  // outputs: a read-only buffer is refused
};

// Throws moerouter::Error naming `name`: DtypeMismatch for element types moerouter has no DType
// for, ShapeMismatch beyond 4 dims, DeviceMismatch for memory other than CPU/CUDA,
// LayoutUnsupported for byte strides that are not whole elements, InvalidArgument for objects
// that are neither DLPack producers nor buffers.
Imported import_tensor(py::handle obj, const std::string& name, const ImportOptions& options = {});

// None -> nullopt.
std::optional<Imported> import_optional(py::handle obj, const std::string& name,
                                        const ImportOptions& options = {});

// The views of optional imports (for RouteOptions and the reference API).
inline std::optional<TensorView> view_of(const std::optional<Imported>& t) {
  return t ? std::optional<TensorView>(t->view) : std::nullopt;
}

}  // namespace moerouter::python
