// Gate weights as the CPU kernels want them, built once in set_weights.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "moerouter/tensor.hpp"

namespace moerouter::cpu {

// Panels of kPanel experts side by side: panel p holds, for each k in [0, H), the weights of
// experts p*kPanel .. p*kPanel+kPanel-1 (zero-padded past E). One 64-byte load gives 16 experts' w_k,
// which is what a micro-kernel that broadcasts x[k] and keeps experts in SIMD lanes needs.
inline constexpr int kPanel = 32;

struct AlignedFree {
  void operator()(float* p) const noexcept { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;
AlignedFloats allocate_aligned_floats(size_t count);  // 64-byte aligned; throws Error(OutOfMemory)

struct PackedWeights {
  int64_t hidden = 0;
  int64_t experts = 0;
  int64_t panels = 0;
  AlignedFloats panel_data;           // [panels][H][kPanel]
  std::vector<float> rows_f32;        // [E][H] as given (for the Eigen fp32 path)
  std::vector<float> rows_bf16;       // [E][H] rounded to bf16 (for the bf16 path)
  std::vector<float> bias;            // [E] or empty

  const float* panel(int64_t p) const { return panel_data.get() + p * hidden * kPanel; }
};

PackedWeights pack_weights(const TensorView& weight, const float* bias);

}  // namespace moerouter::cpu
