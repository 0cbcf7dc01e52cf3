// NpyDType tables and NpyArray helpers.
#include "io/npy.hpp"

#include <sstream>

#include "moerouter/error.hpp"

namespace moerouter::io {

size_t itemsize(NpyDType t) noexcept {
  switch (t) {
    case NpyDType::F32: return 4;
    case NpyDType::F64: return 8;
    case NpyDType::I32: return 4;
    case NpyDType::I64: return 8;
    case NpyDType::BF16: return 2;
  }
  return 0;
}

const char* descr(NpyDType t) noexcept {
  switch (t) {
    case NpyDType::F32: return "<f4";
    case NpyDType::F64: return "<f8";
    case NpyDType::I32: return "<i4";
    case NpyDType::I64: return "<i8";
    case NpyDType::BF16: return "<u2";  // NumPy has no bfloat16: raw bits, as uint16
  }
  return "?";
}

std::string describe(NpyDType t) {
  switch (t) {
    case NpyDType::F32: return "float32 (<f4)";
    case NpyDType::F64: return "float64 (<f8)";
    case NpyDType::I32: return "int32 (<i4)";
    case NpyDType::I64: return "int64 (<i8)";
    case NpyDType::BF16: return "bfloat16 (<u2 or |V2)";
  }
  return "unknown";
}

NpyDType from_tensor_dtype(DType t) noexcept {
  switch (t) {
    case DType::F32: return NpyDType::F32;
    case DType::BF16: return NpyDType::BF16;
    case DType::I32: return NpyDType::I32;
    case DType::I64: return NpyDType::I64;
  }
  return NpyDType::F32;
}

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

std::string expected_shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    os << (i ? ", " : "");
    if (shape[i] < 0) os << '*';
    else os << shape[i];
  }
  os << ']';
  return os.str();
}

}  // namespace

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string NpyArray::shape_string() const { return shape_text(shape); }

TensorView NpyArray::view() {
  DType t;
  switch (dtype) {
    case NpyDType::F32: t = DType::F32; break;
    case NpyDType::BF16: t = DType::BF16; break;
    case NpyDType::I32: t = DType::I32; break;
    case NpyDType::I64: t = DType::I64; break;
    default:
      fail(ErrorCode::IoError, "'", path, "': dtype: expected float32, bfloat16, int32 or int64 for ",
           "a tensor view, got ", describe(dtype));
  }
  if (shape.size() > static_cast<size_t>(kMaxRank))
    fail(ErrorCode::IoError, "'", path, "': rank: expected at most ", kMaxRank, " dims, got ",
         shape.size(), " dims ", shape_string());
  TensorView v;
  v.data = data.data();
  v.dtype = t;
  v.ndim = static_cast<int>(shape.size());
  int64_t stride = 1;
  for (int i = v.ndim - 1; i >= 0; --i) {
    v.shape[i] = shape[i];
    v.strides[i] = stride;
    stride *= shape[i];
  }
  return v;
}

void check_npy(const NpyArray& a, const NpyExpect& expect) {
  const std::string who = (expect.what.empty() ? "" : expect.what + " ") + "'" + a.path + "'";
  if (!expect.dtypes.empty()) {
    bool ok = false;
    std::string wanted;
    for (size_t i = 0; i < expect.dtypes.size(); ++i) {
      ok = ok || expect.dtypes[i] == a.dtype;
      wanted += (i == 0 ? "" : i + 1 == expect.dtypes.size() ? " or " : ", ") +
                describe(expect.dtypes[i]);
    }
    if (!ok) fail(ErrorCode::IoError, who, ": dtype: expected ", wanted, ", got ", describe(a.dtype));
  }
  if (!expect.shape.empty()) {
    bool ok = expect.shape.size() == a.shape.size();
    for (size_t i = 0; ok && i < a.shape.size(); ++i)
      ok = expect.shape[i] < 0 || expect.shape[i] == a.shape[i];
    if (!ok)
      fail(ErrorCode::IoError, who, ": shape: expected ", expected_shape_text(expect.shape), ", got ",
           a.shape_string());
  }
}

}  // namespace moerouter::io
