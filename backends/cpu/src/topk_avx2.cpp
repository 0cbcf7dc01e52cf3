// Threshold-filter top-k with AVX2 (8 experts per compare); see topk_filter.inl.
// Built with -mavx2 -mfma; only called when the CPU reports both.
#include <immintrin.h>

#include "topk.hpp"

namespace moerouter::cpu {
namespace {

struct Lanes {
  static constexpr int kWidth = 8;
  using Vec = __m256;
  static Vec load(const float* act, const float* bias, int64_t e0, int n) {
    // Lane j is live when j < n: the mask's sign bits come from (j - n) < 0.
    const __m256i live = _mm256_sub_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(n));
    const __m256 a = _mm256_maskload_ps(act + e0, live);
    return bias ? _mm256_add_ps(a, _mm256_maskload_ps(bias + e0, live)) : a;
  }
  static uint32_t beats(Vec v, float threshold) {
    if (threshold != threshold) return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_ORD_Q)));
    return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(threshold), _CMP_GT_OQ)));
  }
};

}  // namespace
}  // namespace moerouter::cpu

#include "topk_filter.inl"

namespace moerouter::cpu {

void select_topk_avx2(const float* act, const epilogue::Params& p, bool* group_flags, int32_t* ids_out) {
  select_topk_filtered(act, p, group_flags, ids_out);
}

}  // namespace moerouter::cpu
