// Route a reference::Problem on any router and keep everything a judge needs.
#pragma once
#include <cstring>
#include <vector>

#include "moerouter/reference/generate.hpp"
#include "moerouter/router.hpp"

namespace moerouter::testing {

struct Routed {
  std::vector<float> weights, logits;
  std::vector<int32_t> ids;
  RouteStats stats;
};

inline Routed route_problem(Router& r, const reference::Problem& p, RouteOptions o = {}) {
  const int64_t n = p.n, E = p.cfg.experts;
  const int k = p.cfg.top_k;
  Routed out;
  out.weights.resize(static_cast<size_t>(n * k));
  out.ids.resize(static_cast<size_t>(n * k));
  out.logits.resize(static_cast<size_t>(n * E));
  std::memset(out.weights.data(), 0xA5, out.weights.size() * 4);  // poison
  std::memset(out.ids.data(), 0xA5, out.ids.size() * 4);
  std::memset(out.logits.data(), 0xA5, out.logits.size() * 4);
  o.logits_out = TensorView::matrix(out.logits.data(), DType::F32, n, E);
  if (p.hashed()) {
    o.token_ids = p.token_ids_view();
    o.hash_table = p.hash_table_view();
  }
  out.stats = r.route(p.x_view(), TensorView::matrix(out.weights.data(), DType::F32, n, k),
                      TensorView::matrix(out.ids.data(), DType::I32, n, k), o);
  return out;
}

}  // namespace moerouter::testing
