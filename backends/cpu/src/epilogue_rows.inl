// Included by epilogue_rows_{scalar,avx2,avx512}.cpp with MOEROUTER_EPILOGUE_FN and
// MOEROUTER_EPILOGUE_SPAN_FN set to the names, and optionally MOEROUTER_EPILOGUE_ACTIVATE to a
// vectorized activation that writes the same bits as epilogue::activate_row (the AVX-512 one:
// activate_avx512.hpp) and MOEROUTER_EPILOGUE_TOPK to a top-k that returns the same ids as
// epilogue::select_topk (topk.hpp).
#include <omp.h>

#include "epilogue_rows.hpp"
#include "moerouter/route_checks.hpp"

#ifndef MOEROUTER_EPILOGUE_ACTIVATE
#define MOEROUTER_EPILOGUE_ACTIVATE epilogue::activate_row
#endif
#ifndef MOEROUTER_EPILOGUE_TOPK
#define MOEROUTER_EPILOGUE_TOPK epilogue::select_topk
#endif

namespace moerouter::cpu {

namespace {

// Row i of a block: activation, selection (or the hash table's ids), weights. Returns whether the
// row's logits were all finite.
inline bool epilogue_one_row(const RouterConfig& cfg, const epilogue::Params& params, const float* li,
                             int64_t row, const RouteOptions& o, float* weights, int32_t* ids,
                             float* act, bool* flags) {
  const int64_t E = cfg.experts;
  const bool finite = epilogue::row_is_finite(li, E);
  MOEROUTER_EPILOGUE_ACTIVATE(li, E, cfg.score, act);
  if (o.hash_table) {
    const int64_t token = read_index(*o.token_ids, row);
    for (int j = 0; j < cfg.top_k; ++j) ids[j] = static_cast<int32_t>(read_index(*o.hash_table, token, j));
  } else {
    MOEROUTER_EPILOGUE_TOPK(act, params, flags, ids);
  }
  epilogue::gather_weights(act, ids, params, weights);
  return finite;
}

}  // namespace

int64_t MOEROUTER_EPILOGUE_FN(const RouterConfig& cfg, const epilogue::Params& params,
                              const EpilogueBlock& b) {
  const int64_t E = cfg.experts;
  const int k = cfg.top_k;
  const RouteOptions& o = *b.options;
  int64_t nonfinite = 0;
#pragma omp parallel num_threads(b.threads) reduction(+ : nonfinite)
  {
    const int t = omp_get_thread_num();
    float* act = b.act_scratch + static_cast<size_t>(t) * E;
    bool* flags = reinterpret_cast<bool*>(b.group_scratch + static_cast<size_t>(t) * cfg.groups);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < b.rows; ++i)
      if (!epilogue_one_row(cfg, params, b.logits + i * E, b.first_row + i, o, b.weights + i * k,
                            b.ids + i * k, act, flags))
        ++nonfinite;
  }
  return nonfinite;
}

EpilogueSpanResult MOEROUTER_EPILOGUE_SPAN_FN(const RouterConfig& cfg, const epilogue::Params& params,
                                              const EpilogueSpan& s) {
  const int64_t E = cfg.experts;
  const int k = cfg.top_k;
  const RouteOptions& o = *s.options;
  float* logits_out = o.logits_out ? static_cast<float*>(o.logits_out->data) : nullptr;
  EpilogueSpanResult result;
  for (int64_t i = 0; i < s.rows; ++i) {
    const float* li = s.logits + i * s.ld;
    const int64_t row = s.first_row + i;
    if (logits_out)
      for (int64_t e = 0; e < E; ++e) logits_out[row * E + e] = fmath::canonicalize(li[e]);
    if (!epilogue_one_row(cfg, params, li, row, o, s.weights + row * k, s.ids + row * k, s.act,
                          s.flags)) {
      if (result.nonfinite == 0) result.first_nonfinite = row;
      ++result.nonfinite;
    }
  }
  return result;
}

}  // namespace moerouter::cpu
