#include "dlpack_import.hpp"

#include <dlpack/dlpack.h>

#include <string>

#include "moerouter/error.hpp"

namespace moerouter::python {

namespace {

constexpr const char* kExpectedDtypes = "float32, bfloat16, int32 or int64";

std::string dl_dtype_name(const DLDataType& t) {
  std::string base;
  switch (t.code) {
    case kDLInt: base = "int"; break;
    case kDLUInt: base = "uint"; break;
    case kDLFloat: base = "float"; break;
    case kDLBfloat: base = "bfloat"; break;
    case kDLComplex: base = "complex"; break;
    default: base = "dtype code " + std::to_string(t.code) + " of "; break;
  }
  std::string s = base + std::to_string(t.bits);
  if (t.lanes != 1) s += "x" + std::to_string(t.lanes);
  return s;
}

// A dtype moerouter has no DType for (float64, float16, uint8, ...). uint16 gets a hint: it is
// how bfloat16 data travels in numpy.
[[noreturn]] void fail_dtype(const std::string& name, const std::string& got, bool is_uint16) {
  std::string actual = got;
  if (is_uint16) actual += " (raw bfloat16 bits? wrap the array: moerouter.bf16_bits(a))";
  fail_arg(ErrorCode::DtypeMismatch, name, kExpectedDtypes, actual);
}

DType dtype_from_dl(const DLDataType& t, const std::string& name, bool bf16_bits) {
  const bool u16 = t.code == kDLUInt && t.bits == 16 && t.lanes == 1;
  const bool bf16 = t.code == kDLBfloat && t.bits == 16 && t.lanes == 1;
  if (bf16_bits) {
    if (u16 || bf16) return DType::BF16;
    fail_arg(ErrorCode::DtypeMismatch, name, "uint16 elements (bf16_bits wraps raw bfloat16 bits)",
             dl_dtype_name(t));
  }
  if (t.lanes == 1) {
    if (t.code == kDLFloat && t.bits == 32) return DType::F32;
    if (bf16) return DType::BF16;
    if (t.code == kDLInt && t.bits == 32) return DType::I32;
    if (t.code == kDLInt && t.bits == 64) return DType::I64;
  }
  fail_dtype(name, dl_dtype_name(t), u16);
}

void set_device(TensorView& v, const DLDevice& d, const std::string& name) {
  switch (d.device_type) {
    case kDLCPU:
    case kDLCUDAHost:  // pinned host memory: the CPU reads it directly
      v.device = DeviceType::Cpu;
      v.device_id = 0;
      return;
    case kDLCUDA:
    case kDLCUDAManaged:
      v.device = DeviceType::Cuda;
      v.device_id = d.device_id;
      return;
    default:
      fail_arg(ErrorCode::DeviceMismatch, name, "a tensor in CPU or CUDA memory",
               "DLPack device type " + std::to_string(static_cast<int>(d.device_type)));
  }
}

void check_rank(int ndim, const std::string& name) {
  if (ndim < 0 || ndim > kMaxRank)
    fail_arg(ErrorCode::ShapeMismatch, name, "at most " + std::to_string(kMaxRank) + " dims",
             std::to_string(ndim) + " dims");
}

// An empty tensor's strides carry no meaning, and producers write anything there (numpy 2 exports
// [0, 0] for a (0, H) array). Compact C-order strides make it pass the layout checks as what it is.
void normalize_empty(TensorView& v) {
  bool empty = false;
  for (int i = 0; i < v.ndim; ++i) empty = empty || v.shape[i] == 0;
  if (!empty) return;
  int64_t stride = 1;
  for (int i = v.ndim - 1; i >= 0; --i) {
    v.strides[i] = stride;
    stride *= v.shape[i] > 0 ? v.shape[i] : 1;
  }
}

Imported from_capsule(py::object capsule, const std::string& name, const ImportOptions& o) {
  // Borrowed, not consumed: the capsule keeps its name, so its own destructor (the producer's)
  // frees the tensor when `owner` lets go of it after the call.
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  if (!managed) {
    PyErr_Clear();
    fail_arg(ErrorCode::InvalidArgument, name, "a DLPack capsule named 'dltensor'",
             "a capsule that was already consumed or is not a DLPack tensor");
  }
  const DLTensor& t = managed->dl_tensor;
  Imported out;
  TensorView& v = out.view;
  check_rank(t.ndim, name);
  v.dtype = dtype_from_dl(t.dtype, name, o.bf16_bits);
  set_device(v, t.device, name);
  v.data = t.data ? static_cast<char*>(t.data) + t.byte_offset : nullptr;
  v.ndim = t.ndim;
  int64_t compact = 1;  // DLPack: strides == NULL means compact C order
  for (int i = t.ndim - 1; i >= 0; --i) {
    v.shape[i] = t.shape[i];
    v.strides[i] = t.strides ? t.strides[i] : compact;
    compact *= t.shape[i];
  }
  normalize_empty(v);
  out.owner = std::move(capsule);
  return out;
}

// Struct-module format character + itemsize -> DType (native or little-endian byte order).
std::optional<DType> dtype_from_format(std::string format, py::ssize_t itemsize, bool bf16_bits,
                                       bool* is_uint16) {
  while (!format.empty() && (format[0] == '@' || format[0] == '=' || format[0] == '<'))
    format.erase(0, 1);
  *is_uint16 = format == "H" && itemsize == 2;
  if (bf16_bits) return *is_uint16 ? std::optional<DType>(DType::BF16) : std::nullopt;
  if (format == "f" && itemsize == 4) return DType::F32;
  if ((format == "i" || format == "l" || format == "q") && itemsize == 4) return DType::I32;
  if ((format == "i" || format == "l" || format == "q") && itemsize == 8) return DType::I64;
  return std::nullopt;
}

std::string format_name(const std::string& format, py::ssize_t itemsize) {
  return "buffer format '" + format + "' (" + std::to_string(itemsize) + "-byte elements)";
}

Imported from_buffer(py::handle obj, const std::string& name, const ImportOptions& o) {
  Imported out;
  try {
    out.buffer = std::make_unique<py::buffer_info>(
        py::reinterpret_borrow<py::buffer>(obj).request(o.writable));
  } catch (py::error_already_set& e) {
    fail(ErrorCode::InvalidArgument, name, ": the buffer protocol refused it",
         o.writable ? " (an output must be writable)" : "", ": ", e.what());
  }
  const py::buffer_info& b = *out.buffer;
  TensorView& v = out.view;
  check_rank(static_cast<int>(b.ndim), name);
  bool u16 = false;
  const auto dtype = dtype_from_format(b.format, b.itemsize, o.bf16_bits, &u16);
  if (!dtype) {
    if (o.bf16_bits)
      fail_arg(ErrorCode::DtypeMismatch, name, "uint16 elements (bf16_bits wraps raw bfloat16 bits)",
               format_name(b.format, b.itemsize));
    fail_dtype(name, format_name(b.format, b.itemsize), u16);
  }
  v.dtype = *dtype;
  v.device = DeviceType::Cpu;
  v.data = b.ptr;
  v.ndim = static_cast<int>(b.ndim);
  for (int i = 0; i < v.ndim; ++i) {
    if (b.strides[i] % b.itemsize != 0)
      fail_arg(ErrorCode::LayoutUnsupported, name, "strides that are whole elements",
               "a stride of " + std::to_string(b.strides[i]) + " bytes in dim " + std::to_string(i));
    v.shape[i] = b.shape[i];
    v.strides[i] = b.strides[i] / b.itemsize;
  }
  normalize_empty(v);
  out.owner = py::reinterpret_borrow<py::object>(obj);
  return out;
}

bool on_cuda(py::handle obj) {
  if (!py::hasattr(obj, "__dlpack_device__")) return false;
  const py::tuple dev = obj.attr("__dlpack_device__")();
  const int type = dev[0].cast<int>();
  return type == kDLCUDA || type == kDLCUDAManaged;
}

}  // namespace

Imported import_tensor(py::handle obj, const std::string& name, const ImportOptions& o) {
  if (obj.is_none())
    fail_arg(ErrorCode::InvalidArgument, name, "an array or tensor", "None");
  if (py::hasattr(obj, "__dlpack__")) {
    py::object capsule;
    try {
      capsule = (o.dlpack_stream && on_cuda(obj))
                    ? obj.attr("__dlpack__")(py::arg("stream") = *o.dlpack_stream)
                    : obj.attr("__dlpack__")();
    } catch (py::error_already_set& e) {
      // numpy refuses to export read-only arrays through DLPack (it cannot mark them read-only);
      // the buffer protocol can, and inputs are never written.
      if (e.matches(PyExc_BufferError) && PyObject_CheckBuffer(obj.ptr()) && !o.writable)
        return from_buffer(obj, name, o);
      fail(ErrorCode::InvalidArgument, name, ": export through DLPack failed: ", e.what());
    }
    if (!PyCapsule_CheckExact(capsule.ptr()))
      fail_arg(ErrorCode::InvalidArgument, name, "__dlpack__() to return a capsule",
               std::string(Py_TYPE(capsule.ptr())->tp_name));
    return from_capsule(std::move(capsule), name, o);
  }
  if (PyCapsule_CheckExact(obj.ptr()))
    return from_capsule(py::reinterpret_borrow<py::object>(obj), name, o);
  if (PyObject_CheckBuffer(obj.ptr())) return from_buffer(obj, name, o);
  fail_arg(ErrorCode::InvalidArgument, name,
           "a DLPack-capable array (torch, numpy, cupy, ...) or a buffer",
           std::string("an object of type ") + Py_TYPE(obj.ptr())->tp_name);
}

std::optional<Imported> import_optional(py::handle obj, const std::string& name,
                                        const ImportOptions& o) {
  if (obj.is_none()) return std::nullopt;
  return import_tensor(obj, name, o);
}

}  // namespace moerouter::python
