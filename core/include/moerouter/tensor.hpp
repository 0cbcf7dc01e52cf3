// TensorView: a non-owning, DLPack-compatible view (shape and strides in elements, int64).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace moerouter {

enum class DType { F32, BF16, I32, I64 };
enum class DeviceType { Cpu, Cuda };

size_t dtype_size(DType t) noexcept;
const char* to_string(DType t) noexcept;
const char* to_string(DeviceType d) noexcept;

inline constexpr int kMaxRank = 4;

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::F32;
  int ndim = 0;
  int64_t shape[kMaxRank] = {0, 0, 0, 0};
  int64_t strides[kMaxRank] = {0, 0, 0, 0};  // in elements, as in DLPack
  DeviceType device = DeviceType::Cpu;
  int device_id = 0;

  // Contiguous C-order views.
  static TensorView matrix(void* data, DType dtype, int64_t rows, int64_t cols,
                           DeviceType device = DeviceType::Cpu, int device_id = 0);
  static TensorView vector(void* data, DType dtype, int64_t len,
                           DeviceType device = DeviceType::Cpu, int device_id = 0);
  // Typed conveniences (host).
  static TensorView matrix(const float* p, int64_t r, int64_t c) { return matrix(const_cast<float*>(p), DType::F32, r, c); }
  static TensorView matrix(const int32_t* p, int64_t r, int64_t c) { return matrix(const_cast<int32_t*>(p), DType::I32, r, c); }
  static TensorView vector(const float* p, int64_t n) { return vector(const_cast<float*>(p), DType::F32, n); }
  static TensorView vector(const int32_t* p, int64_t n) { return vector(const_cast<int32_t*>(p), DType::I32, n); }

  int64_t numel() const;
  bool is_contiguous() const;   // C order (size-1 dims may have any stride)
  std::string shape_string() const;  // "[4096, 7168]"
  template <class T> T* ptr() const { return static_cast<T*>(data); }
};

// bf16 helpers (bit patterns as uint16_t). Widening is exact; narrowing rounds to nearest even
// and keeps NaN quiet.
inline float bf16_to_float(uint16_t b) noexcept {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t float_to_bf16(float f) noexcept;

}  // namespace moerouter
