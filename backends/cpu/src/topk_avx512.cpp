// Threshold-filter top-k with AVX-512 (16 experts per compare); see topk_filter.inl.
// Built with -mavx512f; only called when the CPU reports it.
#include <immintrin.h>

#include "topk.hpp"

namespace moerouter::cpu {
namespace {

struct Lanes {
  static constexpr int kWidth = 16;
  using Vec = __m512;
  static Vec load(const float* act, const float* bias, int64_t e0, int n) {
    const __mmask16 live = static_cast<__mmask16>(n == 16 ? 0xFFFFu : (1u << n) - 1u);
    const __m512 a = _mm512_maskz_loadu_ps(live, act + e0);
    return bias ? _mm512_add_ps(a, _mm512_maskz_loadu_ps(live, bias + e0)) : a;
  }
  static uint32_t beats(Vec v, float threshold) {
    if (threshold != threshold) return _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);  // any number beats NaN
    return _mm512_cmp_ps_mask(v, _mm512_set1_ps(threshold), _CMP_GT_OQ);
  }
};

}  // namespace
}  // namespace moerouter::cpu

#include "topk_filter.inl"

namespace moerouter::cpu {

void select_topk_avx512(const float* act, const epilogue::Params& p, bool* group_flags, int32_t* ids_out) {
  select_topk_filtered(act, p, group_flags, ids_out);
}

}  // namespace moerouter::cpu
