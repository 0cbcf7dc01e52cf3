// Adversarial rows on the CPU backend: NaN, ±inf, denormals, ±1e30, equal scores, k = E, N = 0,
// counts, hash routing and validate=true.
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <vector>

#include "moerouter/epilogue.hpp"
#include "moerouter/error.hpp"
#include "moerouter/registry.hpp"
#include "support/catch.hpp"
#include "support/test_data.hpp"

using namespace moerouter;
using namespace moerouter::testing;

namespace {

// ids of every row distinct and in [0, E); every weight written (no poison left).
void require_valid_rows(const Outputs& o, int64_t n, int k, int64_t E) {
  for (int64_t i = 0; i < n; ++i) {
    std::set<int32_t> seen;
    for (int j = 0; j < k; ++j) {
      const int32_t id = o.ids[i * k + j];
      INFO("row " << i << " rank " << j << " id " << id);
      REQUIRE(id >= 0);
      REQUIRE(id < E);
      REQUIRE(seen.insert(id).second);
      uint32_t bits;
      std::memcpy(&bits, &o.weights[i * k + j], 4);
      REQUIRE(bits != 0xA5A5A5A5u);
      if (std::isnan(o.weights[i * k + j])) REQUIRE(bits == 0x7FC00000u);  // canonical NaN only
    }
  }
}

RouterConfig config(ScoreFn score, int64_t E, int k, int64_t H = 96) {
  RouterConfig c;
  c.hidden = H;
  c.experts = E;
  c.top_k = k;
  c.score = score;
  return c;
}

// A gate whose logits equal x directly (finite x): W = identity, H = E.
std::unique_ptr<Router> identity_gate(const RouterConfig& c, std::vector<float>& w) {
  w.assign(static_cast<size_t>(c.experts * c.hidden), 0.0f);
  for (int64_t e = 0; e < c.experts; ++e) w[e * c.hidden + e] = 1.0f;
  auto r = make_router(c, Device::Cpu);
  r->set_weights(TensorView::matrix(w.data(), c.experts, c.hidden));
  return r;
}

}  // namespace

TEST_CASE("non-finite and extreme logits give distinct in-range ids and are counted", "[cpu][adversarial]") {
  for (ScoreFn score : {ScoreFn::SqrtSoftplus, ScoreFn::Sigmoid, ScoreFn::Softmax}) {
    const int64_t E = 16;
    RouterConfig c = config(score, E, 4, E);
    // W = 4 I: logit e = 4 x_e, so x = ±3e38 overflows to ±inf.
    std::vector<float> w(E * E, 0.0f);
    for (int64_t e = 0; e < E; ++e) w[e * E + e] = 4.0f;
    auto r = make_router(c, Device::Cpu);
    r->set_weights(TensorView::matrix(w.data(), E, E));
    const float nan = std::numeric_limits<float>::quiet_NaN(), big = 3e38f;
    const float denorm = std::numeric_limits<float>::denorm_min();
    std::vector<std::vector<float>> rows = {
        std::vector<float>(E, nan),     // all NaN (CUDA-graph padding)
        std::vector<float>(E, 0.125f),  // all equal
        std::vector<float>(E, big),     // all +inf
        std::vector<float>(E, -big),    // all -inf
        std::vector<float>(E, denorm),  // denormal logits (4 x denorm_min, exact)
        std::vector<float>(E, 2.5e29f), // logits 1e30
    };
    std::vector<float> mixed(E, 0.0f);
    mixed[3] = 0.25f; mixed[13] = -big; mixed[5] = big; mixed[7] = -big;
    mixed[9] = -2.5e29f; mixed[11] = 2.5e29f; mixed[12] = denorm;
    rows.push_back(mixed);
    std::vector<float> x;
    for (auto& row : rows) x.insert(x.end(), row.begin(), row.end());
    const int64_t n = static_cast<int64_t>(rows.size());
    Outputs o(n, c.top_k);
    std::vector<float> logits(n * E);
    RouteOptions opt;
    opt.logits_out = TensorView::matrix(logits.data(), n, E);
    const RouteStats st = r->route(TensorView::matrix(x.data(), n, E), o.w_view(n, 4), o.i_view(n, 4), opt);
    INFO(to_string(score));
    REQUIRE(logits[6 * E + 5] == std::numeric_limits<float>::infinity());
    require_valid_rows(o, n, 4, E);
    CHECK(st.nonfinite_rows == 4);  // NaN row, +inf row, -inf row, mixed row
    CHECK(st.first_nonfinite_row == 0);
    // All-equal scores: the lowest indices win, in index order.
    CHECK((o.ids[4] == 0 && o.ids[5] == 1 && o.ids[6] == 2 && o.ids[7] == 3));
    if (score != ScoreFn::Softmax) CHECK(o.ids[6 * 4] == 5);  // +inf ranks first
  }
}

TEST_CASE("a NaN logit is never chosen over a number, -inf included", "[cpu][adversarial]") {
  for (ScoreFn score : {ScoreFn::SqrtSoftplus, ScoreFn::Sigmoid}) {
    const int64_t E = 8;
    RouterConfig c = config(score, E, 7, E);
    // W = I plus W[2][7] = inf; with x_7 = 0, expert 2 alone gets 0 * inf = NaN.
    std::vector<float> w(E * E, 0.0f);
    for (int64_t e = 0; e < E; ++e) w[e * E + e] = 1.0f;
    w[2 * E + 7] = std::numeric_limits<float>::infinity();
    auto r = make_router(c, Device::Cpu);
    r->set_weights(TensorView::matrix(w.data(), E, E));
    std::vector<float> x = {-3e38f, 1.f, 5.f, -2.f, 0.5f, -1e30f, 3.f, 0.f};
    Outputs o(1, 7);
    std::vector<float> logits(E);
    RouteOptions opt;
    opt.logits_out = TensorView::matrix(logits.data(), 1, E);
    r->route(TensorView::matrix(x.data(), 1, E), o.w_view(1, 7), o.i_view(1, 7), opt);
    REQUIRE(std::isnan(logits[2]));
    uint32_t bits;
    std::memcpy(&bits, &logits[2], 4);
    CHECK(bits == 0x7FC00000u);  // logits_out carries the canonical NaN
    INFO(to_string(score));
    for (int j = 0; j < 7; ++j) CHECK(o.ids[j] != 2);
    CHECK(o.ids[0] == 6);
  }
}

TEST_CASE("k = E returns every expert in rank order", "[cpu][adversarial]") {
  const int64_t E = 8;
  RouterConfig c = config(ScoreFn::Sigmoid, E, static_cast<int>(E), E);
  std::vector<float> w;
  auto r = identity_gate(c, w);
  std::vector<float> x = {0.1f, -3.f, 2.f, 2.f, 0.f, -0.f, 7.f, -1.f};
  Outputs o(1, 8);
  r->route(TensorView::matrix(x.data(), 1, E), o.w_view(1, 8), o.i_view(1, 8));
  const std::vector<int32_t> want = {6, 2, 3, 0, 4, 5, 7, 1};  // ties (2,3) and (+0,-0): lower index first
  CHECK(o.ids == want);
  float sum = 0;
  for (float v : o.weights) sum += v;
  CHECK(std::fabs(sum - 1.0f) < 1e-6f);
}

TEST_CASE("N = 0 is valid and writes nothing, counts are all zero", "[cpu][adversarial]") {
  RouterConfig c = config(ScoreFn::SqrtSoftplus, 8, 2, 8);
  std::vector<float> w;
  auto r = identity_gate(c, w);
  std::vector<int32_t> counts(8, -1);
  RouteOptions opt;
  opt.counts_out = TensorView::vector(counts.data(), 8);
  const RouteStats st = r->route(TensorView::matrix(static_cast<float*>(nullptr), 0, 8),
                                 TensorView::matrix(static_cast<float*>(nullptr), 0, 2),
                                 TensorView::matrix(static_cast<int32_t*>(nullptr), 0, 2), opt);
  CHECK(st.rows == 0);
  CHECK(counts == std::vector<int32_t>(8, 0));
}

TEST_CASE("counts match the ids, hash routing takes ids from the table", "[cpu][adversarial]") {
  RouterConfig c = config(ScoreFn::SqrtSoftplus, 32, 3, 40);
  c.scale = 1.5f;
  const int64_t n = 50, vocab = 11;
  auto w = uniform_vector(32 * 40, -0.3f, 0.3f, 61);
  auto x = uniform_vector(n * 40, -2, 2, 62);
  auto r = make_router(c, Device::Cpu);
  r->set_weights(TensorView::matrix(w.data(), 32, 40));

  std::vector<int64_t> counts(32, -1);
  RouteOptions opt;
  opt.counts_out = TensorView::vector(counts.data(), DType::I64, 32);
  const Outputs o = route_f32(*r, x, n, opt);
  std::vector<int64_t> want(32, 0);
  for (int32_t id : o.ids) ++want[id];
  CHECK(counts == want);

  std::vector<int32_t> table(vocab * 3), tokens(n);
  Rng rng(63);
  for (auto& t : table) t = rng.integer(0, 31);
  for (auto& t : tokens) t = rng.integer(0, static_cast<int>(vocab - 1));
  RouteOptions h;
  h.token_ids = TensorView::vector(tokens.data(), n);
  h.hash_table = TensorView::matrix(table.data(), vocab, 3);
  std::vector<float> logits(n * 32);
  h.logits_out = TensorView::matrix(logits.data(), n, 32);
  const Outputs ho = route_f32(*r, x, n, h);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> act(32);
    epilogue::activate_row(&logits[i * 32], 32, c.score, act.data());
    float sum = 0;
    for (int j = 0; j < 3; ++j) {
      REQUIRE(ho.ids[i * 3 + j] == table[tokens[i] * 3 + j]);
      sum = sum + act[table[tokens[i] * 3 + j]];
    }
    for (int j = 0; j < 3; ++j)
      REQUIRE(ho.weights[i * 3 + j] == (act[table[tokens[i] * 3 + j]] / (sum + 1e-20f)) * 1.5f);
  }
}

TEST_CASE("validate=true names the first non-finite row and writes nothing", "[cpu][adversarial]") {
  RouterConfig c = config(ScoreFn::Sigmoid, 8, 2, 8);
  std::vector<float> w;
  auto r = identity_gate(c, w);
  const int64_t n = 1500;  // the bad row sits in the second internal block
  auto x = uniform_vector(n * 8, -1, 1, 71);
  x[1300 * 8 + 2] = std::numeric_limits<float>::infinity();
  Outputs o(n, 2);
  const Outputs untouched = o;
  RouteOptions opt;
  opt.validate = true;
  try {
    r->route(TensorView::matrix(x.data(), n, 8), o.w_view(n, 2), o.i_view(n, 2), opt);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::NonFiniteInput);
    CHECK(std::string(e.what()).find("x[1300]") != std::string::npos);
  }
  CHECK(o == untouched);
  opt.validate = false;  // without validate the row is routed and counted
  const RouteStats st = r->route(TensorView::matrix(x.data(), n, 8), o.w_view(n, 2), o.i_view(n, 2), opt);
  CHECK(st.nonfinite_rows == 1);
  CHECK(st.first_nonfinite_row == 1300);
}
