#include "moerouter/tensor.hpp"

#include <cstring>
#include <sstream>

namespace moerouter {

size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
  }
  return 0;
}

const char* to_string(DType t) noexcept {
  switch (t) {
    case DType::F32: return "float32";
    case DType::BF16: return "bfloat16";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
  }
  return "unknown";
}

const char* to_string(DeviceType d) noexcept { return d == DeviceType::Cpu ? "cpu" : "cuda"; }

TensorView TensorView::matrix(void* data, DType dtype, int64_t rows, int64_t cols, DeviceType device,
                              int device_id) {
  TensorView t;
  t.data = data;
  t.dtype = dtype;
  t.ndim = 2;
  t.shape[0] = rows;
  t.shape[1] = cols;
  t.strides[0] = cols;
  t.strides[1] = 1;
  t.device = device;
  t.device_id = device_id;
  return t;
}

TensorView TensorView::vector(void* data, DType dtype, int64_t len, DeviceType device, int device_id) {
  TensorView t;
  t.data = data;
  t.dtype = dtype;
  t.ndim = 1;
  t.shape[0] = len;
  t.strides[0] = 1;
  t.device = device;
  t.device_id = device_id;
  return t;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  return n;
}

bool TensorView::is_contiguous() const {
  int64_t expected = 1;
  for (int i = ndim - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

std::string TensorView::shape_string() const {
  std::ostringstream os;
  os << '[';
  for (int i = 0; i < ndim; ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

uint16_t float_to_bf16(float f) noexcept {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  const uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>((u + rounding) >> 16);
}

}  // namespace moerouter
