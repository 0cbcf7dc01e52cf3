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
  void operator()(void* p) const noexcept { std::free(p); }
};
using AlignedBytes = std::unique_ptr<void, AlignedFree>;
AlignedBytes allocate_aligned(size_t bytes);  // 64-byte aligned; throws Error(OutOfMemory)

struct PackedWeights {
  int64_t hidden = 0;
  int64_t experts = 0;
  int64_t panels = 0;
  // fp32 panels always; bf16 weights also keep bf16 panels (half the bytes to stream, which is
  // what small N is bound by), widened exactly in registers. The widening costs shuffle-port uops
  // that compete with the FMAs, so large N uses the fp32 panels. Both hold the same values, so the
  // choice never changes a bit.
  AlignedBytes panels_f32;            // [panels][H][kPanel] float
  AlignedBytes panels_bf16;           // [panels][H][kPanel] uint16_t (bf16 bits), or null
  std::vector<float> rows_f32;        // [E][H] as given (for the Eigen fp32 path)
  std::vector<float> rows_bf16;       // [E][H] rounded to bf16 (for the bf16 path)
  std::vector<float> bias;            // [E] or empty

  bool has_bf16_panels() const { return panels_bf16 != nullptr; }
  const void* panel(int64_t p, bool bf16) const {
    const size_t offset = static_cast<size_t>(p * hidden * kPanel);
    return bf16 ? static_cast<const void*>(static_cast<const uint16_t*>(panels_bf16.get()) + offset)
                : static_cast<const void*>(static_cast<const float*>(panels_f32.get()) + offset);
  }
};

PackedWeights pack_weights(const TensorView& weight, const float* bias);

}  // namespace moerouter::cpu
