#include "packed_weights.hpp"

#include <cstring>

#include "moerouter/error.hpp"

namespace moerouter::cpu {

AlignedBytes allocate_aligned(size_t bytes) {
  const size_t rounded = ((bytes + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) fail(ErrorCode::OutOfMemory, "cpu backend: could not allocate ", rounded, " bytes");
  return AlignedBytes(p);
}

PackedWeights pack_weights(const TensorView& weight, const float* bias) {
  PackedWeights pw;
  pw.experts = weight.shape[0];
  pw.hidden = weight.shape[1];
  pw.panels = (pw.experts + kPanel - 1) / kPanel;
  const int64_t E = pw.experts, H = pw.hidden;

  pw.rows_f32.resize(static_cast<size_t>(E * H));
  if (weight.dtype == DType::F32) {
    std::memcpy(pw.rows_f32.data(), weight.data, sizeof(float) * E * H);
  } else {
    const auto* src = static_cast<const uint16_t*>(weight.data);
    for (int64_t i = 0; i < E * H; ++i) pw.rows_f32[i] = bf16_to_float(src[i]);  // exact
  }
  pw.rows_bf16.resize(pw.rows_f32.size());
  for (size_t i = 0; i < pw.rows_f32.size(); ++i)
    pw.rows_bf16[i] = bf16_to_float(float_to_bf16(pw.rows_f32[i]));

  const bool bf16 = weight.dtype == DType::BF16;
  const size_t count = static_cast<size_t>(pw.panels * H * kPanel);
  pw.panels_f32 = allocate_aligned(count * sizeof(float));
  if (bf16) pw.panels_bf16 = allocate_aligned(count * sizeof(uint16_t));
  auto* out32 = static_cast<float*>(pw.panels_f32.get());
  auto* out16 = static_cast<uint16_t*>(pw.panels_bf16.get());
  const auto* src16 = static_cast<const uint16_t*>(weight.data);
  size_t i = 0;
  for (int64_t p = 0; p < pw.panels; ++p)
    for (int64_t k = 0; k < H; ++k)
      for (int j = 0; j < kPanel; ++j, ++i) {
        const int64_t e = p * kPanel + j;
        out32[i] = e < E ? pw.rows_f32[e * H + k] : 0.0f;
        if (bf16) out16[i] = e < E ? src16[e * H + k] : 0;
      }
  if (bias) pw.bias.assign(bias, bias + E);
  return pw;
}

}  // namespace moerouter::cpu
