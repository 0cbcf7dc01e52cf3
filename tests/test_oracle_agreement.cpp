// CPU backend against the float64 oracle: for every preset and score function, every gemm mode and
// every input kind, ids are exact outside the near-tie band, weights within 4 ulp of the oracle
// epilogue fed the backend's own logits, and integer-valued inputs give exact logits.
#include <cstring>
#include <vector>

#include "moerouter/reference/judge.hpp"
#include "moerouter/reference/oracle.hpp"
#include "moerouter/registry.hpp"
#include "support/catch.hpp"
#include "support/problem_routing.hpp"

using namespace moerouter;
using namespace moerouter::reference;
using namespace moerouter::testing;

namespace {

// Max ulp of each row's weights against the oracle epilogue run on the backend's own logits, over
// rows whose ids agree with it (ids differing there can only be epilogue-level near ties).
int64_t max_weight_ulp_on_own_logits(const Problem& p, const Routed& got, int64_t* judged_rows) {
  const int64_t E = p.cfg.experts;
  const int k = p.cfg.top_k;
  int64_t worst = 0;
  *judged_rows = 0;
  std::vector<double> l(static_cast<size_t>(E));
  for (int64_t i = 0; i < p.n; ++i) {
    for (int64_t e = 0; e < E; ++e) l[e] = got.logits[i * E + e];
    const OracleRow o = epilogue_row(p.cfg, l.data(), p.bias.empty() ? nullptr : p.bias.data(),
                                     p.hashed() ? p.hash_ids(i) : nullptr);
    if (!o.finite) continue;
    const RowJudgement j = judge_row(p.cfg, o, &got.ids[i * k], &got.weights[i * k]);
    if (j.ids != Verdict::Exact || j.max_weight_ulp < 0) continue;
    ++*judged_rows;
    worst = std::max(worst, j.max_weight_ulp);
  }
  return worst;
}

void check_against_oracle(const RouterConfig& cfg, InputKind kind, DType dtype, int64_t n, uint64_t seed,
                          bool hashed = false) {
  Problem p = generate(cfg, n, kind, seed, dtype);
  if (hashed) add_hash_routing(p, 97, seed + 5);
  const std::vector<OracleRow> oracle = route_all(p);
  auto router = make_router(cfg, Device::Cpu);
  router->set_weights(p.w_view(), p.bias_view());
  for (GemmMode mode : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16}) {
    // bf16 mode rounds its inputs to bf16: judge it only on bf16-representable inputs.
    if (mode == GemmMode::Bf16 && dtype != DType::BF16) continue;
    RouteOptions opt;
    opt.gemm = mode;
    const Routed got = route_problem(*router, p, opt);
    const BatchJudgement b = judge_all(cfg, oracle, got.ids.data(), got.weights.data());
    INFO(describe(cfg) << " kind=" << to_string(kind) << " mode=" << to_string(mode) << " dtype="
                       << moerouter::to_string(dtype) << (hashed ? " hashed" : "") << "\n"
                       << "exact " << b.exact << " near-tie " << b.near_tie << " mismatch " << b.mismatch
                       << " non-finite " << b.nonfinite << "\nfirst mismatch: " << b.first_mismatch);
    REQUIRE(b.rows == n);
    REQUIRE(b.mismatch == 0);
    int64_t judged = 0;
    const int64_t ulp = max_weight_ulp_on_own_logits(p, got, &judged);
    INFO("weights judged on " << judged << " rows, max ulp " << ulp);
    CHECK(ulp <= 4);
    if (kind == InputKind::Random) CHECK(judged >= n * 9 / 10);
    // Logits that are exact in any order must come out exactly.
    for (int64_t i = 0; i < n; ++i)
      if (oracle[i].exact_logits) {
        const std::vector<float> want = [&] {
          std::vector<float> v(cfg.experts);
          for (int64_t e = 0; e < cfg.experts; ++e) v[e] = round_to_f32(oracle[i].logits[e]);
          return v;
        }();
        INFO("row " << i);
        REQUIRE(std::memcmp(want.data(), &got.logits[i * cfg.experts], cfg.experts * 4) == 0);
      }
  }
}

}  // namespace

TEST_CASE("every preset agrees with the float64 oracle on random inputs", "[cpu][oracle]") {
  for (const auto& name : preset_names()) {
    check_against_oracle(preset(name), InputKind::Random, DType::F32, 96, 101);
    check_against_oracle(preset(name), InputKind::Random, DType::BF16, 64, 102);
  }
}

TEST_CASE("every score function agrees with the oracle, with and without groups and renormalization", "[cpu][oracle]") {
  for (ScoreFn score : {ScoreFn::SqrtSoftplus, ScoreFn::Sigmoid, ScoreFn::Softmax}) {
    RouterConfig c;
    c.hidden = 333;
    c.experts = 96;
    c.top_k = 7;
    c.score = score;
    c.scale = 2.0f;
    check_against_oracle(c, InputKind::Random, DType::F32, 200, 111);
    c.groups = 12;
    c.topk_groups = 3;
    check_against_oracle(c, InputKind::Random, DType::F32, 200, 112);
    c.renormalize = false;
    check_against_oracle(c, InputKind::Random, DType::BF16, 200, 113);
  }
}

TEST_CASE("integer-valued, tie-heavy and adversarial inputs agree with the oracle", "[cpu][oracle]") {
  for (const char* name : {"dsv4-flash", "dsv3", "qwen3-moe", "mixtral"}) {
    const RouterConfig c = preset(name);
    check_against_oracle(c, InputKind::IntegerValued, DType::F32, 64, 121);
    check_against_oracle(c, InputKind::TieHeavy, DType::F32, 64, 122);
    check_against_oracle(c, InputKind::Adversarial, DType::F32, 64, 123);
  }
}

TEST_CASE("hash routing agrees with the oracle", "[cpu][oracle]") {
  check_against_oracle(preset("dsv4-flash"), InputKind::Random, DType::F32, 128, 131, true);
  check_against_oracle(preset("dsv4-pro"), InputKind::Random, DType::BF16, 64, 132, true);
}

TEST_CASE("k = E and N = 1 agree with the oracle", "[cpu][oracle]") {
  RouterConfig c;
  c.hidden = 130;
  c.experts = 24;
  c.top_k = 24;
  c.score = ScoreFn::Sigmoid;
  check_against_oracle(c, InputKind::Random, DType::F32, 40, 141);
  check_against_oracle(preset("dsv4-pro"), InputKind::Random, DType::F32, 1, 142);
}
