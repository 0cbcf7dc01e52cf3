// The fused canonical route (GEMM + epilogue in one work item, backends/cpu/src/canonical_fused.*)
// against the blocked route (GEMM over a block, then the epilogue), which validate=true and calls
// too small to fill every thread with row groups still take: identical ids, weights, logits_out,
// counts_out and non-finite statistics, for every ISA and thread counts 1..4, with bf16 and strided
// inputs and rows that make non-finite logits.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "moerouter/cpu.hpp"
#include "moerouter/registry.hpp"
#include "support/catch.hpp"
#include "support/test_data.hpp"

using namespace moerouter;
using namespace moerouter::testing;

namespace {

struct IsaScope {  // sets MOEROUTER_CPU_ISA for one scope
  explicit IsaScope(const char* isa) { setenv("MOEROUTER_CPU_ISA", isa, 1); }
  ~IsaScope() { unsetenv("MOEROUTER_CPU_ISA"); }
};

std::vector<const char*> isas() {
  std::vector<const char*> v{"scalar"};
  if (cpu::isa_supported(cpu::Isa::Avx2)) v.push_back("avx2");
  if (cpu::isa_supported(cpu::Isa::Avx512)) v.push_back("avx512");
  return v;
}

struct Result {
  std::vector<float> weights, logits;
  std::vector<int32_t> ids, counts;
  RouteStats stats;
  bool same_as(const Result& o) const {
    return std::memcmp(weights.data(), o.weights.data(), weights.size() * 4) == 0 &&
           std::memcmp(ids.data(), o.ids.data(), ids.size() * 4) == 0 &&
           std::memcmp(logits.data(), o.logits.data(), logits.size() * 4) == 0 &&
           counts == o.counts && stats.nonfinite_rows == o.stats.nonfinite_rows &&
           stats.first_nonfinite_row == o.stats.first_nonfinite_row;
  }
};

Result run(Router& r, const TensorView& x, int64_t n, int threads, bool validate) {
  const RouterConfig& c = r.config();
  Result out;
  out.weights.assign(static_cast<size_t>(n * c.top_k), -3.0f);
  out.ids.assign(static_cast<size_t>(n * c.top_k), -5);
  out.logits.assign(static_cast<size_t>(n * c.experts), -7.0f);
  out.counts.assign(static_cast<size_t>(c.experts), -9);
  RouteOptions o;
  o.threads = threads;
  o.validate = validate;
  o.logits_out = TensorView::matrix(out.logits.data(), DType::F32, n, c.experts);
  o.counts_out = TensorView::vector(out.counts.data(), DType::I32, c.experts);
  out.stats = r.route(x, TensorView::matrix(out.weights.data(), DType::F32, n, c.top_k),
                      TensorView::matrix(out.ids.data(), DType::I32, n, c.top_k), o);
  return out;
}

RouterConfig config_of(int64_t hidden, int64_t experts, int k, ScoreFn score, int groups, int keep) {
  RouterConfig c;
  c.hidden = hidden;
  c.experts = experts;
  c.top_k = k;
  c.score = score;
  c.scale = 1.5f;
  c.groups = groups;
  c.topk_groups = keep;
  return c;
}

}  // namespace

TEST_CASE("fused canonical route equals the blocked route bit for bit", "[cpu][canonical][fused]") {
  const RouterConfig configs[] = {
      config_of(200, 70, 5, ScoreFn::SqrtSoftplus, 1, 1),  // short last chunk, partial panel
      config_of(576, 256, 8, ScoreFn::Sigmoid, 8, 4),      // group-limited, K not a block multiple
      config_of(320, 96, 6, ScoreFn::Softmax, 1, 1),
  };
  uint64_t seed = 100;
  for (const RouterConfig& cfg : configs) {
    const int64_t H = cfg.hidden, E = cfg.experts;
    auto w = uniform_vector(static_cast<size_t>(E * H), -0.1f, 0.1f, seed++);
    auto bias = uniform_vector(static_cast<size_t>(E), -0.05f, 0.05f, seed++);
    auto router = make_router(cfg, Device::Cpu);
    router->set_weights(TensorView::matrix(w.data(), E, H), TensorView::vector(bias.data(), E));
    for (int64_t n : {int64_t(129), int64_t(300), int64_t(520)}) {
      // x with a row stride wider than H (strided input), and a bf16 copy of the same values.
      const int64_t ld = H + 3;
      auto xs = uniform_vector(static_cast<size_t>(n * ld), -2, 2, seed++);
      std::vector<uint16_t> xb(static_cast<size_t>(n * H));
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < H; ++k) {
          xb[i * H + k] = float_to_bf16(xs[i * ld + k]);
          xs[i * ld + k] = bf16_to_float(xb[i * H + k]);
        }
      TensorView xf = TensorView::matrix(xs.data(), DType::F32, n, H);
      xf.strides[0] = ld;
      const TensorView xh = TensorView::matrix(xb.data(), DType::BF16, n, H);
      // validate=true always takes the blocked route: the reference.
      const Result want = [&] { IsaScope s("scalar"); return run(*router, xf, n, 1, true); }();
      for (const char* isa : isas())
        for (int threads = 1; threads <= 4; ++threads) {
          IsaScope s(isa);
          INFO("E " << E << " n " << n << " isa " << isa << " threads " << threads);
          REQUIRE(run(*router, xf, n, threads, false).same_as(want));
          REQUIRE(run(*router, xh, n, threads, false).same_as(want));
        }

      // Non-finite rows (x scaled to overflow the logits; NaN in x): counted and the first one
      // reported alike on every path (validate=false).
      for (int64_t bad : {n - 1, int64_t(70), int64_t(3)}) {
        auto xn = xs;
        xn[bad * ld + 5] = std::numeric_limits<float>::quiet_NaN();
        xn[(n / 2) * ld + 1] = std::numeric_limits<float>::infinity();
        TensorView v = TensorView::matrix(xn.data(), DType::F32, n, H);
        v.strides[0] = ld;
        const Result ref = [&] { IsaScope s("scalar"); return run(*router, v, n, 4, false); }();
        REQUIRE(ref.stats.nonfinite_rows == (bad == n / 2 ? 1 : 2));
        REQUIRE(ref.stats.first_nonfinite_row == std::min(bad, n / 2));
        for (const char* isa : isas())
          for (int threads = 1; threads <= 4; ++threads) {
            IsaScope s(isa);
            INFO("non-finite row " << bad << " n " << n << " isa " << isa << " threads " << threads);
            REQUIRE(run(*router, v, n, threads, false).same_as(ref));
          }
      }
    }
  }
}
