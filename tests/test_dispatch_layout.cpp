// The dispatch layout: per-expert counts, expert offsets [E+1] and the stable token-slot
// permutation [N*k] that a grouped expert GEMM consumes.
#include <cstring>
#include <vector>

#include "moerouter/reference/generate.hpp"
#include "moerouter/registry.hpp"
#include "support/catch.hpp"

using namespace moerouter;

namespace {

struct Layout {
  std::vector<int32_t> ids;
  std::vector<int64_t> counts, offsets, slots;
};

// Routes with every layout output requested in `dtype` (I32 or I64) and widens them to int64.
Layout route_layout(Router& r, const reference::Problem& p, DType dtype) {
  const RouterConfig& c = r.config();
  const int64_t n = p.n, E = c.experts, nk = n * c.top_k;
  Layout L;
  L.ids.assign(static_cast<size_t>(nk), -1);
  std::vector<float> w(static_cast<size_t>(nk));
  const size_t es = dtype_size(dtype);
  std::vector<char> counts(E * es, 0x5A), offsets((E + 1) * es, 0x5A), slots(std::max<int64_t>(nk, 1) * es, 0x5A);
  RouteOptions o;
  o.counts_out = TensorView::vector(counts.data(), dtype, E);
  o.expert_offsets_out = TensorView::vector(offsets.data(), dtype, E + 1);
  o.token_slots_out = TensorView::vector(slots.data(), dtype, nk);
  r.route(p.x_view(), TensorView::matrix(w.data(), n, c.top_k), TensorView::matrix(L.ids.data(), n, c.top_k), o);
  const auto widen = [&](const std::vector<char>& b, int64_t count) {
    std::vector<int64_t> v(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      if (dtype == DType::I32) { int32_t x; std::memcpy(&x, b.data() + 4 * i, 4); v[i] = x; }
      else std::memcpy(&v[i], b.data() + 8 * i, 8);
    }
    return v;
  };
  L.counts = widen(counts, E);
  L.offsets = widen(offsets, E + 1);
  L.slots = widen(slots, nk);
  return L;
}

void require_consistent(const Layout& L, int64_t n, int k, int64_t E) {
  const int64_t nk = n * k;
  REQUIRE(L.offsets[0] == 0);
  REQUIRE(L.offsets[E] == nk);
  std::vector<char> seen(static_cast<size_t>(nk), 0);
  for (int64_t e = 0; e < E; ++e) {
    INFO("expert " << e);
    REQUIRE(L.offsets[e + 1] - L.offsets[e] == L.counts[e]);
    for (int64_t j = L.offsets[e]; j < L.offsets[e + 1]; ++j) {
      const int64_t s = L.slots[j];
      REQUIRE(s >= 0);
      REQUIRE(s < nk);
      REQUIRE(L.ids[s] == e);                                // grouped by expert
      if (j > L.offsets[e]) REQUIRE(s > L.slots[j - 1]);     // ascending token order (stable)
      REQUIRE(seen[s]++ == 0);                               // a permutation
    }
  }
}

}  // namespace

TEST_CASE("the dispatch layout groups slots by expert, stable in token order", "[cpu][layout]") {
  for (const char* name : {"dsv4-flash", "dsv3", "mixtral"}) {
    const RouterConfig cfg = preset(name);
    const reference::Problem p = reference::generate(cfg, 301, reference::InputKind::TieHeavy, 5);
    auto r = make_router(cfg, Device::Cpu);
    r->set_weights(p.w_view(), p.bias_view());
    const Layout a = route_layout(*r, p, DType::I32);
    const Layout b = route_layout(*r, p, DType::I64);
    INFO(name);
    require_consistent(a, p.n, cfg.top_k, cfg.experts);
    REQUIRE(a.slots == b.slots);
    REQUIRE(a.offsets == b.offsets);
    REQUIRE(a.counts == b.counts);
  }
}

TEST_CASE("the dispatch layout of N = 0 is all-zero offsets", "[cpu][layout]") {
  const RouterConfig cfg = preset("mixtral");
  const reference::Problem p = reference::generate(cfg, 0, reference::InputKind::Random, 6);
  auto r = make_router(cfg, Device::Cpu);
  r->set_weights(p.w_view(), p.bias_view());
  const Layout L = route_layout(*r, p, DType::I64);
  REQUIRE(L.offsets == std::vector<int64_t>(9, 0));
  REQUIRE(L.counts == std::vector<int64_t>(8, 0));
}
