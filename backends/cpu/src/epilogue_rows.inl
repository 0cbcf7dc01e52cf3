// Included by epilogue_rows_{scalar,avx2,avx512}.cpp with MOEROUTER_EPILOGUE_FN set to the name,
// and optionally MOEROUTER_EPILOGUE_ACTIVATE to a vectorized activation that writes the same bits
// as epilogue::activate_row (the AVX-512 one: activate_avx512.hpp).
#include <omp.h>

#include "epilogue_rows.hpp"
#include "moerouter/route_checks.hpp"

#ifndef MOEROUTER_EPILOGUE_ACTIVATE
#define MOEROUTER_EPILOGUE_ACTIVATE epilogue::activate_row
#endif

namespace moerouter::cpu {

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
    for (int64_t i = 0; i < b.rows; ++i) {
      const float* li = b.logits + i * E;
      if (!epilogue::row_is_finite(li, E)) ++nonfinite;
      MOEROUTER_EPILOGUE_ACTIVATE(li, E, cfg.score, act);
      int32_t* row_ids = b.ids + i * k;
      if (o.hash_table) {
        const int64_t token = read_index(*o.token_ids, b.first_row + i);
        for (int j = 0; j < k; ++j) row_ids[j] = static_cast<int32_t>(read_index(*o.hash_table, token, j));
      } else {
        epilogue::select_topk(act, params, flags, row_ids);
      }
      epilogue::gather_weights(act, row_ids, params, b.weights + i * k);
    }
  }
  return nonfinite;
}

}  // namespace moerouter::cpu
