#include "cpu_route.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include <omp.h>

#include "canonical_fused.hpp"
#include "canonical_gemm.hpp"
#include "dense_gemm.hpp"
#include "dispatch_layout.hpp"
#include "epilogue_rows.hpp"
#include "moerouter/cpu.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/error.hpp"
#include "moerouter/route_checks.hpp"

namespace moerouter::cpu {

namespace {

// Rows per block: bounds the logits workspace (block x E floats) for any N.
constexpr int64_t kBlockRows = 1024;

struct Workspace {
  std::vector<float> logits;   // [block, E]
  std::vector<float> staged_x; // [block, H] when x must be converted (bf16 input or bf16 mode)
  std::vector<float> act;      // [threads, E]
  std::vector<char> groups;    // [threads, G] (bool flags)
};

Workspace allocate(const RouterConfig& cfg, int64_t n, bool stage_x, int threads) {
  const int64_t rows = std::min(n, kBlockRows);
  Workspace ws;
  try {
    ws.logits.resize(static_cast<size_t>(rows * cfg.experts));
    if (stage_x) ws.staged_x.resize(static_cast<size_t>(rows * cfg.hidden));
    ws.act.resize(static_cast<size_t>(threads) * cfg.experts);
    ws.groups.resize(static_cast<size_t>(threads) * cfg.groups);
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::OutOfMemory, "cpu route: could not allocate the workspace for ", rows,
         " rows x ", cfg.experts, " experts");
  }
  return ws;
}

// Row i of x as float, for a block starting at row r0: either x itself (no copy) or the staging
// buffer holding the exactly widened (bf16 input) or bf16-rounded (bf16 mode) values.
const float* stage_block(const TensorView& x, int64_t r0, int64_t rows, int64_t hidden,
                         bool round_to_bf16, Workspace& ws, int64_t* ld, int threads) {
  const int64_t row_stride = x.shape[0] > 1 ? x.strides[0] : hidden;
  if (x.dtype == DType::F32 && !round_to_bf16) {
    *ld = row_stride;
    return static_cast<const float*>(x.data) + r0 * row_stride;
  }
  float* out = ws.staged_x.data();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < rows; ++i) {
    float* dst = out + i * hidden;
    if (x.dtype == DType::BF16) {
      const auto* src = static_cast<const uint16_t*>(x.data) + (r0 + i) * row_stride;
      for (int64_t k = 0; k < hidden; ++k) dst[k] = bf16_to_float(src[k]);  // exact widening
    } else {
      const auto* src = static_cast<const float*>(x.data) + (r0 + i) * row_stride;
      for (int64_t k = 0; k < hidden; ++k) dst[k] = bf16_to_float(float_to_bf16(src[k]));
    }
  }
  *ld = hidden;
  return out;
}

void compute_logits(GemmMode mode, Isa isa, const PackedWeights& w, const float* x, int64_t ld,
                    int64_t rows, float* logits, int threads) {
  switch (mode) {
    case GemmMode::Canonical: canonical_gemm(isa, w, x, ld, rows, logits, threads); return;
    case GemmMode::Fp32: dense_gemm(w.rows_f32, w.experts, w.hidden, x, ld, rows, logits, threads); return;
    case GemmMode::Bf16: dense_gemm(w.rows_bf16, w.experts, w.hidden, x, ld, rows, logits, threads); return;
  }
}

int64_t first_nonfinite_row(const float* logits, int64_t rows, int64_t experts) {
  for (int64_t i = 0; i < rows; ++i)
    if (!epilogue::row_is_finite(logits + i * experts, experts)) return i;
  return -1;
}

}  // namespace

RouteStats route_checked(const RouterConfig& cfg, const PackedWeights& w, GemmMode mode,
                         const TensorView& x, const TensorView& weights_out,
                         const TensorView& ids_out, const RouteOptions& o) {
  const int64_t n = x.shape[0];
  const int64_t E = cfg.experts, H = cfg.hidden;
  const int k = cfg.top_k;
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();
  const Isa isa = active_isa();  // canonical GEMM and epilogue; every ISA gives the same bits
  const bool round_x = mode == GemmMode::Bf16;
  const bool stage_x = x.dtype == DType::BF16 || round_x;

  RouteStats stats;
  stats.rows = n;
  stats.device = DeviceType::Cpu;
  stats.gemm = mode;
  stats.kernel = mode == GemmMode::Canonical ? to_string(isa) : "eigen";
  const epilogue::Params params = epilogue::Params::from(cfg, w.bias.empty() ? nullptr : w.bias.data());
  auto* weights = static_cast<float*>(weights_out.data);
  auto* ids = static_cast<int32_t*>(ids_out.data);

  // Large canonical calls: the epilogue runs inside the GEMM's work items (canonical_fused.hpp).
  // validate=true keeps the blocked path below, whose first pass rejects a non-finite row before a
  // single output byte is written.
  if (mode == GemmMode::Canonical && !o.validate && fused_route_fits(n, threads)) {
    const EpilogueSpanResult r = canonical_route_fused(isa, cfg, params, w, x, o, weights, ids, threads);
    stats.nonfinite_rows = r.nonfinite;
    stats.first_nonfinite_row = r.first_nonfinite;
    write_dispatch_layout(ids, n, k, E, o);
    return stats;
  }

  Workspace ws = allocate(cfg, std::max<int64_t>(n, 1), stage_x, threads);

  const auto logits_for_block = [&](int64_t r0, int64_t rows) {
    int64_t ld = 0;
    const float* xb = stage_block(x, r0, rows, H, round_x, ws, &ld, threads);
    compute_logits(mode, isa, w, xb, ld, rows, ws.logits.data(), threads);
  };

  // validate=true: a first pass finds any non-finite row before a single output byte is written.
  if (o.validate) {
    for (int64_t r0 = 0; r0 < n; r0 += kBlockRows) {
      const int64_t rows = std::min(kBlockRows, n - r0);
      logits_for_block(r0, rows);
      const int64_t bad = first_nonfinite_row(ws.logits.data(), rows, E);
      if (bad >= 0)
        fail_arg(ErrorCode::NonFiniteInput, "x[" + std::to_string(r0 + bad) + "]",
                 "finite logits (validate=true)", "NaN or infinite logits in this row");
    }
  }

  for (int64_t r0 = 0; r0 < n; r0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, n - r0);
    logits_for_block(r0, rows);
    const float* L = ws.logits.data();
    if (o.logits_out) {
      auto* dst = static_cast<float*>(o.logits_out->data) + r0 * E;
      for (int64_t i = 0; i < rows * E; ++i) dst[i] = fmath::canonicalize(L[i]);
    }
    EpilogueBlock block{L, rows, r0, &o, weights + r0 * k, ids + r0 * k, ws.act.data(), ws.groups.data(), threads};
    const int64_t nonfinite = epilogue_rows(isa, cfg, params, block);
    int64_t first_bad = -1;
    if (nonfinite > 0 && stats.first_nonfinite_row < 0) {
      first_bad = first_nonfinite_row(L, rows, E);
      stats.first_nonfinite_row = r0 + first_bad;
    }
    stats.nonfinite_rows += nonfinite;
  }

  write_dispatch_layout(ids, n, k, E, o);  // counts, expert offsets, token-slot permutation
  return stats;
}

}  // namespace moerouter::cpu
