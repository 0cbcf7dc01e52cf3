// The reference itself: hand-computed oracle cases, the generator's promises, the near-tie band
// and the judge's verdicts on planted cases.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <vector>

#include "moerouter/epilogue.hpp"
#include "moerouter/error.hpp"
#include "moerouter/reference/reference.hpp"
#include "support/catch.hpp"

using namespace moerouter;
namespace ref = moerouter::reference;

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

RouterConfig small_cfg(int64_t E, int k, ScoreFn score, bool renormalize = true, float scale = 1.f,
                       int groups = 1, int topk_groups = 1, int64_t H = 16) {
  RouterConfig c;
  c.hidden = H;
  c.experts = E;
  c.top_k = k;
  c.score = score;
  c.renormalize = renormalize;
  c.scale = scale;
  c.groups = groups;
  c.topk_groups = topk_groups;
  return c;
}

bool close(double a, double b, double rel = 1e-14) {
  return std::fabs(a - b) <= rel * std::max(1.0, std::max(std::fabs(a), std::fabs(b)));
}

std::vector<int32_t> ids_of(const ref::OracleRow& o) { return o.ids; }

// The canonical dot product of DESIGN.md §2, written out here so this test pins the oracle's
// exactness claim against the contract directly.
float chunked_fma_dot(const float* x, const float* w, int64_t h) {
  float total = 0.0f;
  for (int64_t c0 = 0; c0 < h; c0 += 64) {
    float chunk = 0.0f;
    for (int64_t k = c0; k < std::min(h, c0 + 64); ++k) chunk = std::fma(x[k], w[k], chunk);
    total = c0 == 0 ? chunk : total + chunk;
  }
  return total;
}

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  // memcmp's pointers must not be null even for 0 bytes (an empty vector's data() may be).
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Weights exactly as a backend writes them from the oracle's, for planting outputs.
std::vector<float> f32_weights(const ref::OracleRow& o) {
  std::vector<float> w;
  for (double v : o.weights) w.push_back(ref::round_to_f32(v));
  return w;
}

}  // namespace

TEST_CASE("oracle: sigmoid by hand", "[reference]") {
  // sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4, sigmoid(ln 7) = 7/8.
  const double logits[4] = {0.0, std::log(3.0), -std::log(3.0), std::log(7.0)};
  const RouterConfig cfg = small_cfg(4, 2, ScoreFn::Sigmoid, true, 2.5f);
  const ref::OracleRow o = ref::epilogue_row(cfg, logits, nullptr);
  const double act[4] = {0.5, 0.75, 0.25, 0.875};
  for (int e = 0; e < 4; ++e) CHECK(close(o.act[e], act[e]));
  CHECK(ids_of(o) == std::vector<int32_t>{3, 1});
  // 0.875 / 1.625 = 7/13 and 0.75 / 1.625 = 6/13, times 2.5.
  CHECK(close(o.weights[0], 2.5 * 7.0 / 13.0));
  CHECK(close(o.weights[1], 2.5 * 6.0 / 13.0));
  CHECK(o.finite);
  CHECK(o.delta == 0);

  // Bias moves selection (sel = 1.0 for expert 0) but the weights stay the unbiased act.
  const float bias[4] = {0.5f, 0.f, 0.f, 0.f};
  const RouterConfig plain = small_cfg(4, 2, ScoreFn::Sigmoid, false, 1.f);
  const ref::OracleRow b = ref::epilogue_row(plain, logits, bias);
  CHECK(close(b.sel[0], 1.0));
  CHECK(ids_of(b) == std::vector<int32_t>{0, 3});
  CHECK(close(b.weights[0], 0.5));
  CHECK(close(b.weights[1], 0.875));
  CHECK(b.has_bias);
}

TEST_CASE("oracle: sqrtsoftplus by hand", "[reference]") {
  // softplus(ln(e^a - 1)) = a, so these logits give act = sqrt(1), sqrt(4), sqrt(30) (the l > 20
  // cut: softplus(l) = l), sqrt(1/4).
  const double logits[4] = {std::log(std::expm1(1.0)), std::log(std::expm1(4.0)), 30.0,
                            std::log(std::expm1(0.25))};
  const RouterConfig cfg = small_cfg(4, 3, ScoreFn::SqrtSoftplus, false, 1.5f);
  const ref::OracleRow o = ref::epilogue_row(cfg, logits, nullptr);
  CHECK(close(o.act[0], 1.0));
  CHECK(close(o.act[1], 2.0));
  CHECK(o.act[2] == std::sqrt(30.0));
  CHECK(close(o.act[3], 0.5));
  CHECK(ids_of(o) == std::vector<int32_t>{2, 1, 0});
  CHECK(close(o.weights[0], 1.5 * std::sqrt(30.0)));
  CHECK(close(o.weights[1], 3.0));
  CHECK(close(o.weights[2], 1.5));

  CHECK(ref::score_sqrtsoftplus(20.5) == std::sqrt(20.5));  // exactly l above the cut
  CHECK(ref::score_sqrtsoftplus(-kInf) == 0.0);
  CHECK(ref::score_sqrtsoftplus(kInf) == kInf);
  CHECK(std::isnan(ref::score_sqrtsoftplus(kNan)));
}

TEST_CASE("oracle: softmax by hand", "[reference]") {
  // exp(ln j) = j: act = j / 10.
  const double logits[4] = {0.0, std::log(2.0), std::log(3.0), std::log(4.0)};
  const RouterConfig cfg = small_cfg(4, 2, ScoreFn::Softmax, true, 1.f);
  const ref::OracleRow o = ref::epilogue_row(cfg, logits, nullptr);
  for (int e = 0; e < 4; ++e) CHECK(close(o.act[e], (e + 1) / 10.0));
  CHECK(ids_of(o) == std::vector<int32_t>{3, 2});
  CHECK(close(o.weights[0], 4.0 / 7.0));
  CHECK(close(o.weights[1], 3.0 / 7.0));

  // Shift invariance (the max is subtracted first).
  double shifted[4];
  for (int e = 0; e < 4; ++e) shifted[e] = logits[e] + 100.0;
  const ref::OracleRow s = ref::epilogue_row(cfg, shifted, nullptr);
  for (int e = 0; e < 4; ++e) CHECK(close(s.act[e], o.act[e], 1e-12));

  // A NaN anywhere, or a +inf max (inf - inf), makes every score NaN; ids then follow the index.
  for (double bad : {kNan, kInf}) {
    double l[4] = {0.0, 1.0, bad, 2.0};
    const ref::OracleRow n = ref::epilogue_row(cfg, l, nullptr);
    for (double a : n.act) CHECK(std::isnan(a));
    CHECK(ids_of(n) == std::vector<int32_t>{0, 1});
    CHECK(std::isnan(n.weights[0]));
    CHECK_FALSE(n.finite);
  }
}

TEST_CASE("oracle: equal sel ranks the lower index first", "[reference]") {
  const double logits[4] = {1.0, 2.0, 2.0, 1.0};
  CHECK(ids_of(ref::epilogue_row(small_cfg(4, 2, ScoreFn::Sigmoid), logits, nullptr)) ==
        std::vector<int32_t>{1, 2});
  CHECK(ids_of(ref::epilogue_row(small_cfg(4, 3, ScoreFn::Sigmoid), logits, nullptr)) ==
        std::vector<int32_t>{1, 2, 0});
  // Equal logits, equal bias on 1 and 2.
  const double zeros[4] = {0, 0, 0, 0};
  const float bias[4] = {0.f, 0.25f, 0.25f, 0.f};
  CHECK(ids_of(ref::epilogue_row(small_cfg(4, 3, ScoreFn::SqrtSoftplus), zeros, bias)) ==
        std::vector<int32_t>{1, 2, 0});
}

TEST_CASE("oracle: NaN ranks below every number", "[reference]") {
  CHECK(ref::ranks_above(-kInf, 5, kNan, 0));
  CHECK_FALSE(ref::ranks_above(kNan, 0, -kInf, 5));
  CHECK(ref::ranks_above(kNan, 1, kNan, 2));
  CHECK_FALSE(ref::ranks_above(kNan, 2, kNan, 1));

  const double logits[4] = {kNan, -kInf, 0.0, kNan};  // sigmoid: NaN, 0, 1/2, NaN
  CHECK(ids_of(ref::epilogue_row(small_cfg(4, 4, ScoreFn::Sigmoid), logits, nullptr)) ==
        std::vector<int32_t>{2, 1, 0, 3});
  CHECK(ids_of(ref::epilogue_row(small_cfg(4, 1, ScoreFn::Sigmoid), logits, nullptr)) ==
        std::vector<int32_t>{2});
  // sel = -inf still beats NaN.
  const double l2[4] = {kNan, 0.0, kNan, kNan};
  const float bias[4] = {0.f, -std::numeric_limits<float>::infinity(), 0.f, 0.f};
  CHECK(ids_of(ref::epilogue_row(small_cfg(4, 2, ScoreFn::SqrtSoftplus), l2, bias)) ==
        std::vector<int32_t>{1, 0});
}

TEST_CASE("oracle: k = E ranks every expert", "[reference]") {
  const double logits[5] = {0.3, -1.0, 2.0, 0.3, 5.0};
  const RouterConfig cfg = small_cfg(5, 5, ScoreFn::Sigmoid, true, 2.f);
  const ref::OracleRow o = ref::epilogue_row(cfg, logits, nullptr);
  CHECK(ids_of(o) == std::vector<int32_t>{4, 2, 0, 3, 1});
  CHECK(o.runner_up == -1);
  CHECK(ref::expert_boundary_gap(o) == kInf);
  double sum = 0;
  for (double w : o.weights) sum += w;
  CHECK(close(sum, 2.0, 1e-12));
}

TEST_CASE("oracle: group limiting keeps the best groups", "[reference]") {
  // act = 1/2 everywhere; the bias sets sel = {.9, 0 | .6, .6 | .55, .55 | .1, .2}.
  // Group scores (sum of the two best): .9, 1.2, 1.1, .3 -> keep groups 1 and 2, although the single
  // best expert (0) is in group 0.
  const double zeros[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const float bias[8] = {0.4f, -0.5f, 0.1f, 0.1f, 0.05f, 0.05f, -0.4f, -0.3f};
  const RouterConfig cfg = small_cfg(8, 3, ScoreFn::Sigmoid, true, 2.5f, 4, 2);
  const ref::OracleRow o = ref::epilogue_row(cfg, zeros, bias);
  CHECK(o.kept_groups == std::vector<int32_t>{1, 2});
  CHECK(o.group_runner_up == 0);
  CHECK(close(o.group_scores[1], 1.2, 1e-7));
  CHECK(ids_of(o) == std::vector<int32_t>{2, 3, 4});
  CHECK(close(o.weights[0], 2.5 / 3.0));  // equal act: scale / k each
  CHECK(close(ref::group_boundary_gap(o), 1.1 - 0.9, 1e-7));

  const ref::OracleRow flat = ref::epilogue_row(small_cfg(8, 3, ScoreFn::Sigmoid), zeros, bias);
  CHECK(ids_of(flat) == std::vector<int32_t>{0, 2, 3});

  // One expert per group: the group score is that expert's sel.
  const double l4[4] = {0.1, 0.4, 0.3, 0.2};
  const ref::OracleRow one = ref::epilogue_row(small_cfg(4, 2, ScoreFn::Sigmoid, true, 1.f, 4, 2), l4, nullptr);
  CHECK(one.kept_groups == std::vector<int32_t>{1, 2});
  CHECK(ids_of(one) == std::vector<int32_t>{1, 2});

  // Equal group scores: the lower group index is kept.
  const double tie[4] = {1.0, 0.0, 0.0, 1.0};
  const ref::OracleRow t = ref::epilogue_row(small_cfg(4, 1, ScoreFn::Sigmoid, true, 1.f, 2, 1), tie, nullptr);
  CHECK(t.kept_groups == std::vector<int32_t>{0});
  CHECK(ids_of(t) == std::vector<int32_t>{0});
}

TEST_CASE("oracle: hash routing takes ids from the table", "[reference]") {
  const RouterConfig cfg = small_cfg(8, 3, ScoreFn::SqrtSoftplus, true, 1.5f);
  ref::Problem p = ref::generate(cfg, 20, ref::InputKind::Random, 5);
  ref::add_hash_routing(p, 10, 7);
  REQUIRE(p.token_ids.size() == 20);
  REQUIRE(p.hash_table.size() == 30);
  for (int32_t t : p.token_ids) CHECK((t >= 0 && t < 10));
  for (int v = 0; v < 10; ++v) {
    std::set<int32_t> row(p.hash_table.begin() + v * 3, p.hash_table.begin() + v * 3 + 3);
    CHECK(row.size() == 3);
    CHECK((*row.begin() >= 0 && *row.rbegin() < 8));
  }
  REQUIRE(p.hash_table_view().has_value());
  CHECK(p.hash_table_view()->shape[0] == 10);
  for (int64_t r = 0; r < p.n; ++r) {
    const ref::OracleRow o = ref::route_row(p, r);
    const int32_t* want = p.hash_ids(r);
    CHECK(o.hashed);
    CHECK(ids_of(o) == std::vector<int32_t>(want, want + 3));
    double sum = 0;
    for (int i = 0; i < 3; ++i) sum += o.act[want[i]];
    for (int i = 0; i < 3; ++i) CHECK(close(o.weights[i], o.act[want[i]] / sum * 1.5));
  }
  // Hash rows are judged exactly: no near ties.
  const ref::OracleRow o = ref::route_row(p, 0);
  std::vector<int32_t> swapped = o.ids;
  std::swap(swapped[1], swapped[2]);
  CHECK(ref::judge_row(cfg, o, o.ids.data(), nullptr).ids == ref::Verdict::Exact);
  CHECK(ref::judge_row(cfg, o, swapped.data(), nullptr).ids == ref::Verdict::Mismatch);
  CHECK(ref::judge_row(cfg, o, swapped.data(), nullptr, false).ids == ref::Verdict::Exact);
}

TEST_CASE("oracle: renormalize formula with its 1e-20 epsilon", "[reference]") {
  // sigmoid(-49) ~ 5.2e-22: the epsilon dominates the denominator, so the weights sum well below
  // scale, exactly as (w / (sum + 1e-20f)) * scale says.
  const double logits[4] = {-50.0, -49.0, -60.0, -70.0};
  const RouterConfig cfg = small_cfg(4, 2, ScoreFn::Sigmoid, true, 3.f);
  const ref::OracleRow o = ref::epilogue_row(cfg, logits, nullptr);
  REQUIRE(ids_of(o) == std::vector<int32_t>{1, 0});
  const double denom = (o.act[1] + o.act[0]) + static_cast<double>(1e-20f);
  CHECK(close(o.weights[0], o.act[1] / denom * 3.0));
  CHECK(close(o.weights[1], o.act[0] / denom * 3.0));
  CHECK(o.weights[0] + o.weights[1] < 0.3);

  const ref::OracleRow raw = ref::epilogue_row(small_cfg(4, 2, ScoreFn::Sigmoid, false, 3.f), logits, nullptr);
  CHECK(close(raw.weights[0], o.act[1] * 3.0));
}

TEST_CASE("generator: same seed, same bytes, another seed, other bytes", "[reference]") {
  const RouterConfig cfg = small_cfg(16, 4, ScoreFn::Sigmoid, true, 1.f, 4, 2, 96);
  for (ref::InputKind kind : {ref::InputKind::Random, ref::InputKind::IntegerValued,
                              ref::InputKind::TieHeavy, ref::InputKind::Adversarial}) {
    for (DType dt : {DType::F32, DType::BF16}) {
      INFO(ref::to_string(kind) << " " << to_string(dt));
      const ref::Problem a = ref::generate(cfg, 12, kind, 42, dt);
      const ref::Problem b = ref::generate(cfg, 12, kind, 42, dt);
      const ref::Problem c = ref::generate(cfg, 12, kind, 43, dt);
      CHECK(same_bytes(a.x, b.x));
      CHECK(same_bytes(a.w, b.w));
      CHECK(same_bytes(a.bias, b.bias));
      CHECK(same_bytes(a.x_bf16, b.x_bf16));
      CHECK(same_bytes(a.w_bf16, b.w_bf16));
      CHECK_FALSE(same_bytes(a.x, c.x));
      CHECK_FALSE(same_bytes(a.w, c.w));
      // Row-prefix stable: 5 rows are the first 5 of 12.
      const ref::Problem s = ref::generate(cfg, 5, kind, 42, dt);
      CHECK(std::memcmp(s.x.data(), a.x.data(), s.x.size() * sizeof(float)) == 0);
      CHECK(same_bytes(s.w, a.w));
      if (dt == DType::BF16) {
        REQUIRE(a.x_bf16.size() == a.x.size());
        const ref::Problem f = ref::generate(cfg, 12, kind, 42, DType::F32);
        bool rounded = true;
        for (size_t i = 0; i < a.x.size(); ++i) {
          const float want = bf16_to_float(float_to_bf16(f.x[i]));
          const float from_bits = bf16_to_float(a.x_bf16[i]);
          rounded = rounded && std::memcmp(&want, &a.x[i], 4) == 0 &&
                    std::memcmp(&from_bits, &a.x[i], 4) == 0;
        }
        CHECK(rounded);
        CHECK(a.x_view().dtype == DType::BF16);
      } else {
        CHECK(a.x_bf16.empty());
        CHECK(a.x_view().dtype == DType::F32);
      }
    }
  }
  CHECK(ref::generate(cfg, 3, ref::InputKind::Random, 1, DType::F32, false).bias.empty());
  CHECK(ref::generate(cfg, 3, ref::InputKind::Random, 1).bias_view().has_value());
}

TEST_CASE("generator: pinned random numbers", "[reference]") {
  // The published first output of splitmix64 seeded with 0: pins the generator on every platform.
  ref::SplitMix64 rng(0);
  CHECK(rng.next() == 0xE220A8397B1DCDAFull);
  // portable_log stays within a few double ulps of libm.
  for (double v : {1e-300, 1e-10, 0.1, 0.5, 0.70710678, 0.9999999, 1.0, 1.5, 2.0, 1e10})
    CHECK(close(ref::portable_log(v), std::log(v), 1e-15));
  // normal(): mean ~ 0, variance ~ 1.
  ref::SplitMix64 g(123);
  double m = 0, v = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double z = g.normal();
    m += z;
    v += z * z;
  }
  m /= n;
  v = v / n - m * m;
  CHECK(std::fabs(m) < 0.02);
  CHECK(std::fabs(v - 1.0) < 0.02);
}

TEST_CASE("generator: pinned output bits", "[reference]") {
  // Recorded once; any platform, compiler or standard library must reproduce these bits.
  const RouterConfig cfg = small_cfg(4, 2, ScoreFn::Sigmoid, true, 1.f, 1, 1, 8);
  const auto bits = [](float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
  };
  const ref::Problem r = ref::generate(cfg, 2, ref::InputKind::Random, 1);
  CHECK(bits(r.x[0]) == 0x3ED82A67u);
  CHECK(bits(r.x[1]) == 0x3CFC7BAEu);
  CHECK(bits(r.x[2]) == 0x3EA1B2AAu);
  CHECK(bits(r.x[3]) == 0xBE5C69E5u);
  CHECK(bits(r.w[0]) == 0xBEEE732Eu);
  CHECK(bits(r.w[1]) == 0x3DDC71CBu);
  CHECK(bits(r.bias[0]) == 0xBD30C263u);
  const ref::Problem i = ref::generate(cfg, 2, ref::InputKind::IntegerValued, 1);
  CHECK(i.x[0] == -2.0f);
  CHECK(i.x[2] == -3.0f);
  CHECK(i.w[0] == -0.125f);  // -2 * 2^-4: H = 8 gives the shift s = 4 (2^(2s) >= 16 H)
  CHECK(i.bias[0] == -0.375f);
}

TEST_CASE("generator: input kind names", "[reference]") {
  for (ref::InputKind kind : {ref::InputKind::Random, ref::InputKind::IntegerValued,
                              ref::InputKind::TieHeavy, ref::InputKind::Adversarial})
    CHECK(ref::parse_input_kind(ref::to_string(kind)) == kind);
  CHECK(std::string(ref::to_string(ref::InputKind::IntegerValued)) == "integer");
  CHECK_THROWS_AS(ref::parse_input_kind("gaussian"), Error);
  CHECK_THROWS_AS(ref::generate(small_cfg(4, 2, ScoreFn::Sigmoid), -1, ref::InputKind::Random, 0), Error);
  RouterConfig bad = small_cfg(4, 2, ScoreFn::Sigmoid);
  bad.top_k = 5;
  CHECK_THROWS_AS(ref::generate(bad, 1, ref::InputKind::Random, 0), Error);
}

TEST_CASE("generator: IntegerValued and TieHeavy logits are exact in any FP32 order", "[reference]") {
  for (ref::InputKind kind : {ref::InputKind::IntegerValued, ref::InputKind::TieHeavy}) {
    for (int64_t H : {int64_t{300}, int64_t{7168}}) {
      INFO(ref::to_string(kind) << " H=" << H);
      const RouterConfig cfg = small_cfg(16, 4, ScoreFn::SqrtSoftplus, true, 1.f, 1, 1, H);
      const ref::Problem p = ref::generate(cfg, 6, kind, 9, DType::BF16);
      const std::vector<float> want = ref::oracle_logits_f32(p);
      bool all_exact = true;
      for (int64_t r = 0; r < p.n; ++r) {
        const ref::OracleRow o = ref::route_row(p, r);
        CHECK(o.exact_logits);
        CHECK(o.delta == 0);
        const float* x = &p.x[r * H];
        for (int64_t e = 0; e < cfg.experts; ++e) {
          const float* w = &p.w[e * H];
          float forward = 0.f, backward = 0.f;
          for (int64_t k = 0; k < H; ++k) forward = forward + x[k] * w[k];
          for (int64_t k = H - 1; k >= 0; --k) backward = backward + x[k] * w[k];
          const float chunked = chunked_fma_dot(x, w, H);
          const float oracle = want[r * cfg.experts + e];
          all_exact = all_exact && forward == oracle && backward == oracle && chunked == oracle &&
                      static_cast<double>(oracle) == o.logits[e];
        }
      }
      CHECK(all_exact);
    }
  }
  // IntegerValued draws x from [-3, 3] and bias from [-4, 4] / 8.
  const ref::Problem p =
      ref::generate(small_cfg(8, 2, ScoreFn::Sigmoid, true, 1.f, 1, 1, 64), 4, ref::InputKind::IntegerValued, 1);
  for (float v : p.x) CHECK((v == std::floor(v) && std::fabs(v) <= 3));
  for (float b : p.bias) CHECK(b * 8 == std::floor(b * 8));
}

TEST_CASE("generator: Random logits are N(0,1)-ish and within delta of any FP32 order", "[reference]") {
  const RouterConfig cfg = small_cfg(32, 4, ScoreFn::Sigmoid, true, 1.f, 1, 1, 1000);
  const ref::Problem p = ref::generate(cfg, 32, ref::InputKind::Random, 3);
  double sq = 0;
  bool within = true;
  for (int64_t r = 0; r < p.n; ++r) {
    const ref::OracleRow o = ref::route_row(p, r);
    CHECK(o.finite);
    CHECK_FALSE(o.exact_logits);
    CHECK(o.delta > 0);
    CHECK(o.delta < 2e-3);  // gamma(1000) * sum|x w| ~ 6e-5 * 20
    for (int64_t e = 0; e < cfg.experts; ++e) {
      const float f = chunked_fma_dot(&p.x[r * 1000], &p.w[e * 1000], 1000);
      within = within && std::fabs(f - o.logits[e]) <= o.delta;
      sq += o.logits[e] * o.logits[e];
    }
  }
  CHECK(within);
  const double rms = std::sqrt(sq / (32.0 * 32.0));
  CHECK((rms > 0.8 && rms < 1.2));
}

TEST_CASE("oracle: route_row and route_all agree, bad rows are refused", "[reference]") {
  const RouterConfig cfg = small_cfg(16, 3, ScoreFn::Sigmoid, true, 1.f, 4, 2, 80);
  const ref::Problem p = ref::generate(cfg, 6, ref::InputKind::Random, 31);
  const std::vector<ref::OracleRow> all = ref::route_all(p);
  REQUIRE(all.size() == 6);
  for (int64_t r = 0; r < p.n; ++r) {
    const ref::OracleRow o = ref::route_row(p, r);
    CHECK(o.row == r);
    CHECK(o.ids == all[r].ids);
    CHECK(o.logits == all[r].logits);
    CHECK(o.delta == all[r].delta);
  }
  const std::vector<float> f = ref::oracle_logits_f32(p);
  CHECK(f[5 * 16 + 3] == static_cast<float>(all[5].logits[3]));
  CHECK_THROWS_AS(ref::route_row(p, 6), Error);
  CHECK_THROWS_AS(ref::route_row(p, -1), Error);
  RouterConfig other = cfg;
  other.top_k = 2;
  CHECK_THROWS_AS(ref::judge_row(other, all[0], all[0].ids.data(), nullptr), Error);
}

TEST_CASE("generator: TieHeavy makes exact ties common", "[reference]") {
  const RouterConfig cfg = small_cfg(32, 4, ScoreFn::Sigmoid, true, 1.f, 1, 1, 128);
  const ref::Problem p = ref::generate(cfg, 16, ref::InputKind::TieHeavy, 11);
  int tied_rows = 0;
  for (const ref::OracleRow& o : ref::route_all(p)) tied_rows += ref::expert_boundary_gap(o) == 0;
  CHECK(tied_rows >= 4);
}

TEST_CASE("generator: Adversarial rows and the oracle's finiteness flags", "[reference]") {
  const RouterConfig cfg = small_cfg(8, 2, ScoreFn::Sigmoid, true, 1.f, 1, 1, 64);
  const ref::Problem p = ref::generate(cfg, 16, ref::InputKind::Adversarial, 2);
  const std::vector<ref::OracleRow> rows = ref::route_all(p);
  for (int r : {0, 1, 2}) {  // NaN, +inf, -inf
    CHECK_FALSE(rows[r].finite);
    CHECK(rows[r].certainly_nonfinite);
  }
  CHECK(rows[3].finite);   // subnormal
  CHECK(rows[4].finite);   // 1e30: huge but finite in FP32
  CHECK(std::fabs(rows[4].logits[0]) > 1e20);
  CHECK_FALSE(rows[5].finite);  // +-1e38: FP32 overflows
  CHECK(rows[6].finite);
  CHECK(rows[7].finite);   // zero row: every logit exactly 0
  CHECK(rows[7].exact_logits);
  CHECK(rows[7].logits[3] == 0.0);
  CHECK(rows[8].finite);
  CHECK(rows[9].finite);
  for (ScoreFn s : {ScoreFn::SqrtSoftplus, ScoreFn::Sigmoid, ScoreFn::Softmax}) {
    RouterConfig c = cfg;
    c.score = s;
    for (ref::InputKind kind : {ref::InputKind::Random, ref::InputKind::IntegerValued,
                                ref::InputKind::TieHeavy, ref::InputKind::Adversarial}) {
      const ref::Problem q = ref::generate(c, 32, kind, 4, DType::BF16);
      for (const ref::OracleRow& o : ref::route_all(q)) {
        std::set<int32_t> ids(o.ids.begin(), o.ids.end());
        CHECK(ids.size() == 2);
        CHECK((*ids.begin() >= 0 && *ids.rbegin() < 8));
      }
    }
  }
}

TEST_CASE("oracle agrees with the FP32 epilogue fed the same logits", "[reference]") {
  // The core epilogue (FP32) and the oracle epilogue (float64) given the same float logits: ids
  // may differ only inside the band, weights by a few ulp.
  struct Case {
    ScoreFn score;
    int groups, keep;
    bool bias;
  };
  const Case cases[] = {{ScoreFn::SqrtSoftplus, 1, 1, true}, {ScoreFn::SqrtSoftplus, 1, 1, false},
                        {ScoreFn::Sigmoid, 8, 4, true},      {ScoreFn::Sigmoid, 1, 1, false},
                        {ScoreFn::Softmax, 1, 1, false},     {ScoreFn::Softmax, 4, 2, true}};
  for (const Case& c : cases) {
    for (ref::InputKind kind : {ref::InputKind::Random, ref::InputKind::TieHeavy,
                                ref::InputKind::Adversarial}) {
      INFO(to_string(c.score) << " groups=" << c.groups << " bias=" << c.bias << " " << ref::to_string(kind));
      const RouterConfig cfg = small_cfg(64, 6, c.score, true, 2.5f, c.groups, c.keep, 64);
      const ref::Problem p = ref::generate(cfg, 64, kind, 21, DType::F32, c.bias);
      const std::vector<float> logits = ref::oracle_logits_f32(p);
      const float* bias = c.bias ? p.bias.data() : nullptr;
      const epilogue::Params params = epilogue::Params::from(cfg, bias);
      int64_t exact = 0, mismatch = 0, worst_ulp = 0;
      for (int64_t r = 0; r < p.n; ++r) {
        const float* l = &logits[r * 64];
        float act[64], weights[6];
        int32_t ids[6];
        bool flags[64];
        epilogue::activate_row(l, 64, cfg.score, act);
        epilogue::select_topk(act, params, flags, ids);
        epilogue::gather_weights(act, ids, params, weights);
        const std::vector<double> wide(l, l + 64);
        const ref::OracleRow o = ref::epilogue_row(cfg, wide.data(), bias);
        const ref::RowJudgement j = ref::judge_row(cfg, o, ids, weights);
        if (j.ids == ref::Verdict::Mismatch) {
          ++mismatch;
          UNSCOPED_INFO(j.explain);
        }
        if (j.ids == ref::Verdict::Exact && o.finite) {
          ++exact;
          worst_ulp = std::max(worst_ulp, j.max_weight_ulp);
        }
      }
      CHECK(mismatch == 0);
      CHECK(exact > 16);
      CHECK(worst_ulp <= 8);
    }
  }
}

TEST_CASE("judge: planted verdicts", "[reference]") {
  // Experts 2 and 3 differ by 1e-9 in logit: far inside the band. The rest are far apart.
  const double logits[8] = {3.0, 2.0, 1.0 + 1e-9, 1.0, 0.0, -1.0, -2.0, -3.0};
  const RouterConfig cfg = small_cfg(8, 3, ScoreFn::Sigmoid, true, 1.f);
  const ref::OracleRow o = ref::epilogue_row(cfg, logits, nullptr);
  REQUIRE(o.ids == std::vector<int32_t>{0, 1, 2});
  const std::vector<float> w = f32_weights(o);

  const ref::RowJudgement exact = ref::judge_row(cfg, o, o.ids.data(), w.data());
  CHECK(exact.ids == ref::Verdict::Exact);
  CHECK(exact.max_weight_ulp == 0);
  CHECK(exact.gap < exact.band);  // the boundary itself is a near tie

  const int32_t swap_in_band[3] = {0, 1, 3};
  const ref::RowJudgement near = ref::judge_row(cfg, o, swap_in_band, w.data());
  CHECK(near.ids == ref::Verdict::NearTie);
  CHECK(near.max_weight_ulp == -1);
  CHECK(near.explain.find("near-tie") != std::string::npos);

  const int32_t wrong[3] = {0, 1, 7};
  const ref::RowJudgement bad = ref::judge_row(cfg, o, wrong, w.data());
  CHECK(bad.ids == ref::Verdict::Mismatch);
  CHECK(bad.explain.find("expected [0 1 2] got [0 1 7]") != std::string::npos);

  // Order matters only when ordered: 0 and 1 are far apart.
  const int32_t reordered[3] = {1, 0, 2};
  CHECK(ref::judge_row(cfg, o, reordered, w.data()).ids == ref::Verdict::Mismatch);
  const std::vector<float> wr = {w[1], w[0], w[2]};
  const ref::RowJudgement as_set = ref::judge_row(cfg, o, reordered, wr.data(), false);
  CHECK(as_set.ids == ref::Verdict::Exact);
  CHECK(as_set.max_weight_ulp == 0);

  // Invalid ids are never excused.
  const int32_t dup[3] = {0, 0, 1};
  const int32_t out_of_range[3] = {0, 1, 8};
  const int32_t negative[3] = {-1, 0, 1};
  CHECK(ref::judge_row(cfg, o, dup, nullptr).ids == ref::Verdict::Mismatch);
  CHECK(ref::judge_row(cfg, o, out_of_range, nullptr).ids == ref::Verdict::Mismatch);
  CHECK(ref::judge_row(cfg, o, negative, nullptr).ids == ref::Verdict::Mismatch);

  // Weight errors are counted in ulp.
  std::vector<float> off = w;
  uint32_t bits;
  std::memcpy(&bits, &off[1], 4);
  bits += 3;
  std::memcpy(&off[1], &bits, 4);
  CHECK(ref::judge_row(cfg, o, o.ids.data(), off.data()).max_weight_ulp == 3);

  // A larger logit error bound widens the band: sel(1) - sel(2) ~ 0.15 is a near tie for delta 1.
  ref::OracleRow loose = o;
  loose.delta = 1.0;
  CHECK(ref::judge_row(cfg, loose, reordered, nullptr).ids == ref::Verdict::NearTie);

  // Non-finite rows: any distinct in-range ids pass; invalid ones still fail.
  const double nan_logits[8] = {kNan, 1, 2, 3, 4, 5, 6, 7};
  const ref::OracleRow nf = ref::epilogue_row(cfg, nan_logits, nullptr);
  const int32_t any[3] = {5, 6, 7};
  const ref::RowJudgement nfj = ref::judge_row(cfg, nf, any, nullptr);
  CHECK(nfj.ids == ref::Verdict::Exact);
  CHECK(nfj.explain.find("non-finite row") != std::string::npos);
  CHECK(ref::judge_row(cfg, nf, dup, nullptr).ids == ref::Verdict::Mismatch);
}

TEST_CASE("judge: group-limited near ties", "[reference]") {
  // sel = {.9, 0 | .6, .6 | .55, .55 | .55, .55+} with group 3 a hair above group 2 (one float ulp
  // of bias): keep 2 -> groups 1 and 3, and the kept/dropped boundary is a near tie.
  const double zeros[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const float hair = std::nextafter(0.05f, 1.0f);
  const float bias[8] = {0.4f, -0.5f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f, hair};
  const RouterConfig cfg = small_cfg(8, 3, ScoreFn::Sigmoid, true, 1.f, 4, 2);
  const ref::OracleRow o = ref::epilogue_row(cfg, zeros, bias);
  REQUIRE(o.kept_groups == std::vector<int32_t>{1, 3});
  REQUIRE(o.ids == std::vector<int32_t>{2, 3, 7});

  const int32_t other_group[3] = {2, 3, 4};  // kept group 2 instead of 3: allowed
  const ref::RowJudgement j = ref::judge_row(cfg, o, other_group, nullptr);
  CHECK(j.ids == ref::Verdict::NearTie);
  CHECK(j.gap <= j.band);
  const int32_t equal_member[3] = {2, 3, 5};  // 4 and 5 tie exactly
  CHECK(ref::judge_row(cfg, o, equal_member, nullptr).ids == ref::Verdict::NearTie);
  const int32_t far_group[3] = {2, 3, 0};  // group 0 is 0.2 below: never
  CHECK(ref::judge_row(cfg, o, far_group, nullptr).ids == ref::Verdict::Mismatch);
  const int32_t three_groups[3] = {2, 4, 7};  // groups 1, 2 and 3: more than topk_groups
  CHECK(ref::judge_row(cfg, o, three_groups, nullptr).ids == ref::Verdict::Mismatch);

  // With group 3 clearly ahead, group 2's experts are out even though their sel is close.
  float clear_bias[8];
  std::copy(bias, bias + 8, clear_bias);
  clear_bias[6] = 0.06f;
  const ref::OracleRow c = ref::epilogue_row(cfg, zeros, clear_bias);
  REQUIRE(c.ids == std::vector<int32_t>{2, 3, 6});
  CHECK(ref::judge_row(cfg, c, other_group, nullptr).ids == ref::Verdict::Mismatch);
}

TEST_CASE("judge: whole batches", "[reference]") {
  const RouterConfig cfg = small_cfg(16, 2, ScoreFn::SqrtSoftplus, true, 1.f, 1, 1, 32);
  const ref::Problem p = ref::generate(cfg, 16, ref::InputKind::Adversarial, 8);
  const std::vector<ref::OracleRow> rows = ref::route_all(p);
  std::vector<int32_t> ids;
  std::vector<float> weights;
  for (const ref::OracleRow& o : rows) {
    ids.insert(ids.end(), o.ids.begin(), o.ids.end());
    for (float v : f32_weights(o)) weights.push_back(v);
  }
  ref::BatchJudgement b = ref::judge_all(cfg, rows, ids.data(), weights.data());
  CHECK(b.rows == 16);
  CHECK(b.exact == 16);
  CHECK(b.mismatch == 0);
  CHECK(b.nonfinite >= 3);
  CHECK(b.max_weight_ulp == 0);
  // Plant a duplicate id in row 9 (finite).
  ids[9 * 2 + 1] = ids[9 * 2];
  b = ref::judge_all(cfg, rows, ids.data(), weights.data());
  CHECK(b.mismatch == 1);
  CHECK(b.first_mismatch_row == 9);
}

TEST_CASE("near-tie band", "[reference]") {
  const double u = 0x1.0p-24;
  CHECK(ref::gamma(1) == u / (1 - u));
  CHECK(close(ref::gamma(7168), 7168 * u, 1e-3));
  CHECK(ref::gamma(int64_t{1} << 24) == kInf);
  CHECK(ref::gamma_f64(7168) < 1e-12);

  RouterConfig cfg = small_cfg(8, 2, ScoreFn::Sigmoid);
  ref::OracleRow row;
  CHECK(ref::tie_band(cfg, row, 0.5) == 0x1.0p-20);
  CHECK(ref::tie_band(cfg, row, -4.0) == 4 * 0x1.0p-20);
  row.delta = 1e-3;
  CHECK(close(ref::tie_band(cfg, row, 0.5), 0.5e-3 + 0x1.0p-20));
  CHECK(ref::group_tie_band(cfg, row, 0.5) == 2 * ref::tie_band(cfg, row, 0.5));
  cfg.score = ScoreFn::Softmax;
  row.delta = 0.5;  // beyond 0.2: the exact e^(2 delta) - 1 takes over from 2.5 delta
  CHECK(close(ref::tie_band(cfg, row, 0.5), std::expm1(1.0) + 0x1.0p-20));
  CHECK(ref::practical_band(0.3) == 1e-4);

  // The Lipschitz constants in near_tie.hpp are at least twice each score's steepest slope.
  double steepest_ssp = 0, steepest_sig = 0;
  for (double l = -30; l < 30; l += 1e-3) {
    const double h = 1e-6;
    steepest_ssp = std::max(steepest_ssp, (ref::score_sqrtsoftplus(l + h) - ref::score_sqrtsoftplus(l)) / h);
    steepest_sig = std::max(steepest_sig, (ref::score_sigmoid(l + h) - ref::score_sigmoid(l)) / h);
  }
  CHECK(2 * steepest_ssp <= ref::score_lipschitz(ScoreFn::SqrtSoftplus));
  CHECK(2 * steepest_sig <= ref::score_lipschitz(ScoreFn::Sigmoid) + 1e-9);
  CHECK(steepest_ssp > 0.31);  // the slope the comment quotes
}

TEST_CASE("ulp_distance", "[reference]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float tiny = std::numeric_limits<float>::denorm_min();
  CHECK(ref::ulp_distance(0.0f, -0.0f) == 0);
  CHECK(ref::ulp_distance(1.0f, std::nextafter(1.0f, 2.0f)) == 1);
  CHECK(ref::ulp_distance(1.0f, std::nextafter(1.0f, 0.0f)) == 1);
  CHECK(ref::ulp_distance(-tiny, tiny) == 2);
  CHECK(ref::ulp_distance(std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity()) == 1);
  CHECK(ref::ulp_distance(-1.0f, 1.0f) == 2 * int64_t{0x3F800000});
  CHECK(ref::ulp_distance(nan, -nan) == 0);
  CHECK(ref::ulp_distance(nan, 1.0f) == std::numeric_limits<int64_t>::max());
  CHECK(ref::ulp_distance(0.0f, nan) == std::numeric_limits<int64_t>::max());
}
