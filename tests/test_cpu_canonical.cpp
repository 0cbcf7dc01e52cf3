// CPU canonical mode: the contract's dot product, identical bits across ISAs, thread counts,
// repeated calls, batch sizes, row positions, input dtypes and strides.
#include <cstring>
#include <string>
#include <vector>

#include "moerouter/cpu.hpp"
#include "moerouter/error.hpp"
#include "moerouter/registry.hpp"
#include "support/canonical_dot.hpp"
#include "support/catch.hpp"
#include "support/test_data.hpp"

using namespace moerouter;
using namespace moerouter::testing;

namespace {

struct Gate {
  RouterConfig cfg;
  std::vector<float> w, bias;
  std::unique_ptr<Router> router;
  Gate(RouterConfig c, uint64_t seed) : cfg(c) {
    const float s = 1.0f / std::sqrt(static_cast<float>(c.hidden));
    w = uniform_vector(static_cast<size_t>(c.experts * c.hidden), -2 * s, 2 * s, seed);
    bias = uniform_vector(static_cast<size_t>(c.experts), -0.1f, 0.1f, seed + 1);
    router = make_router(cfg, Device::Cpu);
    router->set_weights(TensorView::matrix(w.data(), c.experts, c.hidden),
                        TensorView::vector(bias.data(), c.experts));
  }
};

struct IsaOverride {  // sets MOEROUTER_CPU_ISA for one scope
  explicit IsaOverride(const char* isa) { setenv("MOEROUTER_CPU_ISA", isa, 1); }
  ~IsaOverride() { unsetenv("MOEROUTER_CPU_ISA"); }
};

std::vector<const char*> supported_isas() {
  std::vector<const char*> v{"scalar"};
  if (cpu::isa_supported(cpu::Isa::Avx2)) v.push_back("avx2");
  if (cpu::isa_supported(cpu::Isa::Avx512)) v.push_back("avx512");
  return v;
}

std::vector<float> logits_of(Router& r, const std::vector<float>& x, int64_t n, RouteOptions o = {}) {
  std::vector<float> logits(static_cast<size_t>(n * r.config().experts), -7.0f);
  o.logits_out = TensorView::matrix(logits.data(), DType::F32, n, r.config().experts);
  route_f32(r, x, n, o);
  return logits;
}

RouterConfig small_config(ScoreFn score) {
  RouterConfig c;
  c.hidden = 200;  // not a multiple of 32 or 64: a short last chunk
  c.experts = 70;  // not a multiple of the 32-expert panel
  c.top_k = 5;
  c.score = score;
  c.scale = 1.25f;
  return c;
}

}  // namespace

TEST_CASE("canonical logits equal the literal contract dot product", "[cpu][canonical]") {
  for (ScoreFn score : {ScoreFn::SqrtSoftplus, ScoreFn::Sigmoid, ScoreFn::Softmax}) {
    Gate g(small_config(score), 11);
    const int64_t n = 9;
    const auto x = uniform_vector(static_cast<size_t>(n * g.cfg.hidden), -3, 3, 12);
    for (const char* isa : supported_isas()) {
      IsaOverride o(isa);
      const auto logits = logits_of(*g.router, x, n);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t e = 0; e < g.cfg.experts; ++e) {
          const float want = canonical_dot(&x[i * g.cfg.hidden], &g.w[e * g.cfg.hidden], g.cfg.hidden);
          INFO(isa << " row " << i << " expert " << e);
          REQUIRE(std::memcmp(&want, &logits[i * g.cfg.experts + e], 4) == 0);
        }
    }
  }
}

TEST_CASE("canonical output is identical across ISAs, thread counts and repeated calls", "[cpu][canonical]") {
  for (const auto& name : preset_names()) {
    Gate g(preset(name), 21);
    const int64_t n = 67;
    const auto x = uniform_vector(static_cast<size_t>(n * g.cfg.hidden), -2, 2, 22);
    RouteOptions one;
    one.threads = 1;
    Outputs base = [&] { IsaOverride o("scalar"); return route_f32(*g.router, x, n, one); }();
    for (const char* isa : supported_isas())
      for (int threads = 1; threads <= 4; ++threads)
        for (int repeat = 0; repeat < 2; ++repeat) {
          IsaOverride o(isa);
          RouteOptions opt;
          opt.threads = threads;
          INFO(name << " isa " << isa << " threads " << threads);
          REQUIRE(route_f32(*g.router, x, n, opt) == base);
        }
  }
}

TEST_CASE("canonical output is batch-invariant: any batch size, any row position", "[cpu][canonical]") {
  Gate g(preset("dsv4-flash"), 31);
  const int64_t big = 2100;  // crosses the backend's 1024-row block boundary twice
  const auto x = uniform_vector(static_cast<size_t>(big * g.cfg.hidden), -2, 2, 32);
  const Outputs all = route_f32(*g.router, x, big);
  const int k = g.cfg.top_k;
  for (int64_t n : {1, 2, 3, 5, 64, 1023, 1025}) {
    for (int64_t start : {int64_t(0), int64_t(1), big - n}) {
      std::vector<float> part(x.begin() + start * g.cfg.hidden, x.begin() + (start + n) * g.cfg.hidden);
      const Outputs o = route_f32(*g.router, part, n);
      INFO("batch " << n << " starting at row " << start);
      REQUIRE(std::memcmp(o.ids.data(), &all.ids[start * k], n * k * 4) == 0);
      REQUIRE(std::memcmp(o.weights.data(), &all.weights[start * k], n * k * 4) == 0);
    }
  }
}

TEST_CASE("bf16 inputs route exactly like their float32 values, strided x is supported", "[cpu][canonical]") {
  const RouterConfig cfg = small_config(ScoreFn::SqrtSoftplus);
  const int64_t n = 13, H = cfg.hidden, E = cfg.experts;
  auto xf = uniform_vector(static_cast<size_t>(n * H), -4, 4, 41);
  auto wf = uniform_vector(static_cast<size_t>(E * H), -0.2f, 0.2f, 42);
  std::vector<uint16_t> xb(xf.size()), wb(wf.size());
  for (size_t i = 0; i < xf.size(); ++i) xf[i] = bf16_to_float(xb[i] = float_to_bf16(xf[i]));
  for (size_t i = 0; i < wf.size(); ++i) wf[i] = bf16_to_float(wb[i] = float_to_bf16(wf[i]));

  auto f32 = make_router(cfg, Device::Cpu);
  f32->set_weights(TensorView::matrix(wf.data(), E, H));
  auto b16 = make_router(cfg, Device::Cpu);
  b16->set_weights(TensorView::matrix(wb.data(), DType::BF16, E, H));
  const Outputs want = route_f32(*f32, xf, n);

  for (const char* isa : supported_isas()) {  // bf16 panels are widened in registers on every ISA
    IsaOverride o(isa);
    Outputs got(n, cfg.top_k);
    b16->route(TensorView::matrix(xb.data(), DType::BF16, n, H), got.w_view(n, cfg.top_k), got.i_view(n, cfg.top_k));
    INFO(isa);
    REQUIRE(got == want);
  }

  // The same rows at a row stride of H + 3 floats.
  std::vector<float> strided(static_cast<size_t>(n * (H + 3)), 1e30f);
  for (int64_t i = 0; i < n; ++i) std::memcpy(&strided[i * (H + 3)], &xf[i * H], H * 4);
  TensorView xs = TensorView::matrix(strided.data(), DType::F32, n, H);
  xs.strides[0] = H + 3;
  Outputs s(n, cfg.top_k);
  f32->route(xs, s.w_view(n, cfg.top_k), s.i_view(n, cfg.top_k));
  REQUIRE(s == want);
}

TEST_CASE("integer-valued inputs give exact logits in canonical, fp32 and bf16 modes", "[cpu]") {
  RouterConfig cfg = small_config(ScoreFn::Sigmoid);
  const int64_t n = 17, H = cfg.hidden, E = cfg.experts;
  Rng r(51);
  std::vector<float> x(n * H), w(E * H);
  for (auto& v : x) v = static_cast<float>(r.integer(-4, 4));
  for (auto& v : w) v = static_cast<float>(r.integer(-3, 3));
  auto router = make_router(cfg, Device::Cpu);
  router->set_weights(TensorView::matrix(w.data(), E, H));
  for (GemmMode mode : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16}) {
    RouteOptions o;
    o.gemm = mode;
    const auto logits = logits_of(*router, x, n, o);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t e = 0; e < E; ++e) {
        int64_t exact = 0;
        for (int64_t k = 0; k < H; ++k) exact += static_cast<int64_t>(x[i * H + k]) * static_cast<int64_t>(w[e * H + k]);
        INFO(to_string(mode) << " row " << i << " expert " << e);
        REQUIRE(logits[i * E + e] == static_cast<float>(exact));
      }
  }
}
