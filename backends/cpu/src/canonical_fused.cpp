#include "canonical_fused.hpp"

#include <algorithm>
#include <vector>

#include <emmintrin.h>  // SSE2, part of x86-64: this file is built without -m flags
#include <omp.h>

#include "canonical_gemm.hpp"

namespace moerouter::cpu {

namespace {

// A work item is a group of rows (kSmallGroup, or kLargeGroup when there are enough rows) against
// every panel; K is walked in blocks of kBlockK so that a block's panel slice (256 x 32 fp32 =
// 32 KiB) stays in L1 while the group's row tiles pass it. All of W streams from L3 once per item,
// so larger groups halve that traffic (measured ~5 % faster at N >= 1024 on one core); smaller ones
// keep every thread busy at N = 256. Any blocking gives the same bits.
constexpr int64_t kSmallGroup = 64;
constexpr int64_t kLargeGroup = 128;
constexpr int64_t kGroupRows = kLargeGroup;  // buffer sizes
constexpr int64_t kBlockK = 256;
static_assert(kBlockK % kCanonicalChunk == 0, "K blocks must hold whole chunks");
// Row stride of the packed x block: 256 + 16 floats, so that the 8 rows of a tile do not all map
// to the same L1 sets (a stride that is a multiple of 4 KiB would, and x rows of 7168 floats are).
constexpr int64_t kPackLd = kBlockK + 16;

struct ThreadBuffers {
  std::vector<float> x_pack;  // [kGroupRows][kPackLd]
  std::vector<float> logits;  // [kGroupRows][panels * kPanel]
  std::vector<float> act;     // [E]
  std::vector<char> flags;    // [G]
};

// The large group unless it leaves the busiest thread more rows than small groups would (N = 256
// on 2 threads: 2 x 128 rows, as even as 4 x 64).
int64_t group_rows(int64_t n, int threads) {
  const auto busiest = [&](int64_t group) {
    const int64_t groups = (n + group - 1) / group;
    return (groups + threads - 1) / threads * group;
  };
  return busiest(kLargeGroup) <= busiest(kSmallGroup) ? kLargeGroup : kSmallGroup;
}

// Rows [r_begin, r_end) x columns [k0, k1) of x into `dst` (row stride kPackLd), as fp32. bf16 is
// widened exactly (its bits become the high half of the float), 8 values per SSE2 step: a scalar
// loop here cost ~10 % of the whole GEMM.
void pack_block(const TensorView& x, int64_t row_stride, int64_t r_begin, int64_t r_end, int64_t k0,
                int64_t k1, float* dst) {
  const int64_t width = k1 - k0;
  for (int64_t r = r_begin; r < r_end; ++r) {
    float* out = dst + (r - r_begin) * kPackLd;
    if (x.dtype == DType::BF16) {
      const auto* src = static_cast<const uint16_t*>(x.data) + r * row_stride + k0;
      int64_t k = 0;
      const __m128i zero = _mm_setzero_si128();
      for (; k + 8 <= width; k += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k), _mm_unpacklo_epi16(zero, h));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k + 4), _mm_unpackhi_epi16(zero, h));
      }
      for (; k < width; ++k) out[k] = bf16_to_float(src[k]);
    } else {
      const auto* src = static_cast<const float*>(x.data) + r * row_stride + k0;
      std::copy(src, src + width, out);
    }
  }
}

// Asks for the next K block of rows [r_begin, r_end) (into L2) while this one is computed: each
// row's slice is its own short stream that the hardware prefetchers pick up too late.
void prefetch_rows(const TensorView& x, int64_t row_stride, int64_t r_begin, int64_t r_end, int64_t k0,
                   int64_t k1) {
  const int64_t elem = x.dtype == DType::BF16 ? 2 : 4;
  const auto* base = static_cast<const char*>(x.data);
  for (int64_t r = r_begin; r < r_end; ++r)
    for (int64_t k = k0; k < k1; k += 64 / elem)
      _mm_prefetch(base + (r * row_stride + k) * elem, _MM_HINT_T1);
}

}  // namespace

bool fused_route_fits(int64_t n, int threads) {
  const int64_t groups = (n + kSmallGroup - 1) / kSmallGroup;
  return groups >= 2 * static_cast<int64_t>(threads);
}

EpilogueSpanResult canonical_route_fused(Isa isa, const RouterConfig& cfg, const epilogue::Params& params,
                                         const PackedWeights& w, const TensorView& x,
                                         const RouteOptions& options, float* weights, int32_t* ids,
                                         int threads) {
  const int64_t n = x.shape[0];
  const int64_t H = w.hidden, E = cfg.experts;
  const int64_t ld = w.panels * kPanel;  // logits row stride: whole panels, padding unused
  const int64_t row_stride = n > 1 ? x.strides[0] : H;
  const int64_t group = group_rows(n, threads);
  const int64_t groups = (n + group - 1) / group;
  const TileKernel tile = tile_kernel_for(isa);
  EpilogueSpanResult total;
#pragma omp parallel num_threads(threads)
  {
    // Thread-local and reused across calls: no allocation in the hot path after the first call.
    static thread_local ThreadBuffers buf;
    if (buf.x_pack.size() < static_cast<size_t>(kGroupRows * kPackLd)) buf.x_pack.resize(kGroupRows * kPackLd);
    if (buf.logits.size() < static_cast<size_t>(kGroupRows * ld)) buf.logits.resize(kGroupRows * ld);
    if (buf.act.size() < static_cast<size_t>(E)) buf.act.resize(E);
    if (buf.flags.size() < static_cast<size_t>(cfg.groups)) buf.flags.resize(cfg.groups);
    float* x_pack = buf.x_pack.data();
    float* logits = buf.logits.data();
    EpilogueSpanResult mine;
#pragma omp for schedule(dynamic, 1)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t r_begin = g * group;
      const int64_t r_end = std::min(n, r_begin + group);
      for (int64_t k0 = 0; k0 < H; k0 += kBlockK) {
        const int64_t k1 = std::min(H, k0 + kBlockK);
        pack_block(x, row_stride, r_begin, r_end, k0, k1, x_pack);
        for (int64_t p = 0; p < w.panels; ++p) {
          const void* panel = w.panel(p, false);  // fp32 panels: large N is compute bound
          if (k1 < H)  // the next K block's x, spread over the panels of this one
            prefetch_rows(x, row_stride, r_begin + (r_end - r_begin) * p / w.panels,
                          r_begin + (r_end - r_begin) * (p + 1) / w.panels, k1, std::min(H, k1 + kBlockK));
          for (int64_t r0 = r_begin; r0 < r_end; r0 += kTileRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kTileRows, r_end - r0));
            const float* x_rows[kTileRows];
            for (int r = 0; r < kTileRows; ++r)
              x_rows[r] = x_pack + std::min<int64_t>(r0 - r_begin + r, r_end - r_begin - 1) * kPackLd;
            tile(x_rows, rows, panel, false, k0, k1, logits + (r0 - r_begin) * ld + p * kPanel, ld);
          }
        }
      }
      const EpilogueSpan span{logits, ld, r_end - r_begin, r_begin, &options, weights, ids,
                              buf.act.data(), reinterpret_cast<bool*>(buf.flags.data())};
      const EpilogueSpanResult r = epilogue_span(isa, cfg, params, span);
      if (r.nonfinite > 0) {
        if (mine.first_nonfinite < 0 || r.first_nonfinite < mine.first_nonfinite)
          mine.first_nonfinite = r.first_nonfinite;
        mine.nonfinite += r.nonfinite;
      }
    }
#pragma omp critical(moerouter_fused_route_stats)
    {
      total.nonfinite += mine.nonfinite;
      if (mine.first_nonfinite >= 0 &&
          (total.first_nonfinite < 0 || mine.first_nonfinite < total.first_nonfinite))
        total.first_nonfinite = mine.first_nonfinite;
    }
  }
  return total;
}

}  // namespace moerouter::cpu
