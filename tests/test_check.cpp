// reference::check_routing, the library behind `moerouter check`: a correct router passes, a
// planted wrong id is a mismatch naming its row, unranked ids pass as sets, int64 ids are read,
// wrong weights are weight errors; and problem_from_tensors builds the oracle's problem from
// views of any float dtype.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "moerouter/error.hpp"
#include "moerouter/reference/check.hpp"
#include "moerouter/reference/from_tensors.hpp"
#include "moerouter/reference/oracle.hpp"
#include "moerouter/registry.hpp"
#include "support/catch.hpp"
#include "support/problem_routing.hpp"

using namespace moerouter;
using namespace moerouter::reference;
using namespace moerouter::testing;

namespace {

struct Case {
  RouterConfig cfg;
  Problem p;
  Routed got;
  Case() : cfg(preset("dsv4-flash")), p(generate(cfg, 24, InputKind::Random, 5)) {
    cfg.gemm = GemmMode::Fp32;
    auto r = make_router(cfg, Device::Cpu);
    r->set_weights(p.w_view(), p.bias_view());
    got = route_problem(*r, p);
  }
  int64_t k() const { return cfg.top_k; }
  TensorView ids() { return TensorView::matrix(got.ids.data(), p.n, k()); }
  TensorView weights() { return TensorView::matrix(got.weights.data(), p.n, k()); }
};

// The expert with the lowest oracle logit: never a near tie with anything chosen.
int32_t worst_expert(const Problem& p, int64_t row) {
  const OracleRow o = route_row(p, row);
  return static_cast<int32_t>(std::min_element(o.sel.begin(), o.sel.end()) - o.sel.begin());
}

}  // namespace

TEST_CASE("check_routing: a correct router passes", "[check]") {
  Case c;
  const CheckReport r = check_routing(c.p, c.ids(), c.weights());
  INFO(r.summary() << "\n" << r.details());
  CHECK(r.passed());
  CHECK(r.rows == 24);
  CHECK(r.judged == 24);
  CHECK(r.exact + r.near_tie == 24);
  CHECK(r.max_weight_ulp < 64);
  CHECK(r.summary().find("24 of 24 rows") != std::string::npos);

  // int64 ids, and no weights at all.
  std::vector<int64_t> wide(c.got.ids.begin(), c.got.ids.end());
  const CheckReport r64 = check_routing(c.p, TensorView::matrix(wide.data(), DType::I64, c.p.n, c.k()), std::nullopt);
  CHECK(r64.passed());
  CHECK(r64.max_weight_ulp == 0);  // no weights: nothing measured
}

TEST_CASE("check_routing: a planted wrong id is a mismatch that names its row", "[check]") {
  Case c;
  c.got.ids[static_cast<size_t>(7 * c.k() + 1)] = worst_expert(c.p, 7);
  const CheckReport r = check_routing(c.p, c.ids(), c.weights());
  CHECK_FALSE(r.passed());
  CHECK(r.mismatch == 1);
  REQUIRE(r.reported.size() == 1);
  CHECK(r.reported[0].row == 7);
  CHECK(r.reported[0].verdict == Verdict::Mismatch);
  CHECK(r.reported[0].got[1] == worst_expert(c.p, 7));
  CHECK(r.reported[0].judgement.explain.find("row 7:") == 0);
  CHECK(r.details().find("row 7: expected") != std::string::npos);

  // An id beyond int32 in an int64 file is out of range, not silently truncated.
  std::vector<int64_t> wide(c.got.ids.begin(), c.got.ids.end());
  wide[0] = int64_t{1} << 40;
  const CheckReport w = check_routing(c.p, TensorView::matrix(wide.data(), DType::I64, c.p.n, c.k()), std::nullopt);
  CHECK(w.mismatch == 2);
}

TEST_CASE("check_routing: unranked ids pass as sets only", "[check]") {
  Case c;
  for (int64_t row = 0; row < c.p.n; ++row) {  // reverse each row, weights along
    std::reverse(c.got.ids.begin() + row * c.k(), c.got.ids.begin() + (row + 1) * c.k());
    std::reverse(c.got.weights.begin() + row * c.k(), c.got.weights.begin() + (row + 1) * c.k());
  }
  CHECK_FALSE(check_routing(c.p, c.ids(), c.weights()).passed());
  CheckOptions o;
  o.ordered = false;
  const CheckReport r = check_routing(c.p, c.ids(), c.weights(), o);
  CHECK(r.passed());
  CHECK(r.summary().find("as sets") != std::string::npos);
}

TEST_CASE("check_routing: weights far from the oracle's are weight errors", "[check]") {
  Case c;
  for (float& w : c.got.weights) w *= 0.5f;  // a forgotten factor
  CheckOptions o;
  o.max_report = 3;
  const CheckReport r = check_routing(c.p, c.ids(), c.weights(), o);
  CHECK_FALSE(r.passed());
  CHECK(r.mismatch == 0);
  CHECK(r.weight_errors == 24);
  CHECK(r.reported.size() == 3);
  CHECK(r.not_reported == 21);
  CHECK(r.reported[0].weight_error);
  CHECK(r.details().find("weight error: row 0") != std::string::npos);
  o.max_weight_ulp = -1;  // report only
  CHECK(check_routing(c.p, c.ids(), c.weights(), o).passed());
}

TEST_CASE("check_routing: a sample judges evenly strided rows", "[check]") {
  Case c;
  CheckOptions o;
  o.sample = 4;
  std::atomic<int64_t> calls{0}, wrong_total{0};
  o.progress = [&](int64_t, int64_t total) {  // called from several threads at once
    if (total != 4) ++wrong_total;
    ++calls;
  };
  const CheckReport r = check_routing(c.p, c.ids(), c.weights(), o);
  CHECK(r.judged == 4);
  CHECK(calls == 4);
  CHECK(wrong_total == 0);
  CHECK(sample_rows(24, 4) == std::vector<int64_t>{0, 6, 12, 18});
  CHECK(sample_rows(3, 10) == std::vector<int64_t>{0, 1, 2});
  CHECK(sample_rows(5, 0).size() == 5);
}

TEST_CASE("check_routing: output shapes and dtypes are checked", "[check]") {
  Case c;
  CHECK_THROWS_AS(check_routing(c.p, TensorView::matrix(c.got.ids.data(), c.p.n - 1, c.k()), std::nullopt), Error);
  CHECK_THROWS_AS(check_routing(c.p, c.weights(), std::nullopt), Error);  // float ids
}

TEST_CASE("problem_from_tensors: any float dtype, hash routing, range checks", "[check]") {
  const RouterConfig cfg = preset("mixtral");
  const Problem g = generate(cfg, 6, InputKind::Random, 2, DType::BF16);
  Problem p = problem_from_tensors(cfg, g.x_view(), g.w_view(), g.bias_view());
  CHECK(p.x == g.x);  // bf16 widened exactly
  CHECK(p.w == g.w);
  CHECK(p.bias == g.bias);
  CHECK(route_row(p, 3).ids == route_row(g, 3).ids);

  // Strided x: every other row of a larger buffer.
  std::vector<float> big(static_cast<size_t>(12 * cfg.hidden));
  for (int64_t r = 0; r < 6; ++r)
    std::copy(g.x.begin() + r * cfg.hidden, g.x.begin() + (r + 1) * cfg.hidden, big.begin() + 2 * r * cfg.hidden);
  TensorView xs = TensorView::matrix(big.data(), DType::F32, 6, cfg.hidden);
  xs.strides[0] = 2 * cfg.hidden;
  CHECK(problem_from_tensors(cfg, xs, g.w_view()).x == g.x);

  std::vector<int64_t> tokens = {0, 1, 2, 0, 1, 2};
  std::vector<int32_t> table = {0, 1, 2, 3, 4, 5};
  const TensorView tv = TensorView::vector(tokens.data(), DType::I64, 6);
  const TensorView hv = TensorView::matrix(table.data(), DType::I32, 3, 2);
  const Problem h = problem_from_tensors(cfg, g.x_view(), g.w_view(), std::nullopt, tv, hv);
  CHECK(h.hashed());
  CHECK(h.hash_ids(2)[1] == 5);

  tokens[4] = 3;  // past the vocabulary
  CHECK_THROWS_AS(problem_from_tensors(cfg, g.x_view(), g.w_view(), std::nullopt, tv, hv), Error);
  tokens[4] = 1;
  table[3] = 8;  // mixtral has 8 experts
  CHECK_THROWS_AS(problem_from_tensors(cfg, g.x_view(), g.w_view(), std::nullopt, tv, hv), Error);
  CHECK_THROWS_AS(problem_from_tensors(cfg, g.w_view(), g.x_view()), Error);  // swapped
  CHECK_THROWS_AS(problem_from_tensors(cfg, g.x_view(), g.w_view(), std::nullopt, tv), Error);  // table missing
}
