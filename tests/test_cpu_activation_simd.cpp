// The AVX-512 activation (backends/cpu/src/activate_avx512.*) against the scalar fmath/epilogue
// code, bit for bit: every component function on a dense sample of every float class, whole rows
// of every score function at lengths that leave masked tails, and the CPU epilogue and router with
// MOEROUTER_CPU_ISA=avx512 against scalar on adversarial rows. All 2^32 inputs of each function:
// the activation_simd_exhaustive target (tests/activation_simd.cmake).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../backends/cpu/src/activate_avx512.hpp"
#include "../backends/cpu/src/epilogue_rows.hpp"
#include "moerouter/cpu.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/fmath.hpp"
#include "moerouter/registry.hpp"
#include "support/catch.hpp"
#include "support/test_data.hpp"

using namespace moerouter;
using namespace moerouter::testing;

namespace {

namespace fm = moerouter::fmath;

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

bool have_avx512() { return cpu::isa_supported(cpu::Isa::Avx512); }

// Inputs of every class: a strided walk over all 2^32 bit patterns (a prime stride, so the low
// mantissa bits take every residue), random mantissas in every binade of both signs, and the
// thresholds of the scalar code with their neighbours (branch edges are where a wrong mask would
// show), zeros, infinities, NaN payloads (quiet and signalling) and denormals.
std::vector<float> dense_sample() {
  std::vector<float> v;
  for (uint64_t u = 12345; u < (uint64_t{1} << 32); u += 997) v.push_back(float_of(static_cast<uint32_t>(u)));
  Rng rng(2024);
  for (uint32_t sign = 0; sign < 2; ++sign)
    for (uint32_t exponent = 0; exponent < 256; ++exponent)
      for (int j = 0; j < 48; ++j)
        v.push_back(float_of(sign << 31 | exponent << 23 | static_cast<uint32_t>(rng.next() & 0x7FFFFFu)));
  const float kEdges[] = {
      0.0f, 20.0f, -20.0f, 89.0f, -104.0f, 1.0f, -1.0f, 0.5f, -0.5f, 2.0f,
      88.72283935546875f, -87.33654785f, -103.278931f, -103.972084f,  // exp overflow/subnormal/0
      -207.9f, -208.0f, -207.944153f, 40.0f, -40.0f, 178.0f, -178.0f,  // sqrtsoftplus's exp(l/2)
      0x1p-24f, -0x1p-24f, 0x1p-25f, 0x1p-126f, -0x1p-126f,          // log1p's tiny branch, normals
      1.41421353816986083984375f, 0.41421353816986083984375f, -0.29289323f,  // log1p's sqrt(2) fold
      16.6355324f, -16.6355324f, 15.9424887f, -15.9424887f,           // e^l crossing 2^-24, 2^24
      3.0e38f, -3.0e38f, 1e30f, -1e30f, 0x1.fffffep127f, -0x1.fffffep127f, 1e-30f, -1e-30f,
      12582912.0f, 8388608.0f, 0x1p22f, 0.693147182f, -0.693147182f, 0.34657359f, -0.34657359f};
  for (float e : kEdges)
    for (int d = -3; d <= 3; ++d) {
      const uint32_t b = bits_of(e);
      if (e == 0.0f) {
        v.push_back(float_of(static_cast<uint32_t>(d < 0 ? 0x80000000u + static_cast<uint32_t>(-d) : d)));
        continue;
      }
      v.push_back(float_of(b + static_cast<uint32_t>(d)));
      v.push_back(-float_of(b + static_cast<uint32_t>(d)));
    }
  const uint32_t kSpecials[] = {
      0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u,             // ±0, ±inf
      0x7FC00000u, 0xFFC00000u, 0x7FC00001u, 0x7FFFFFFFu, 0xFFFFFFFFu,  // quiet NaNs
      0x7F800001u, 0x7FA00000u, 0xFF800001u, 0xFFBFFFFFu,             // signalling NaNs
      0x00000001u, 0x80000001u, 0x007FFFFFu, 0x807FFFFFu, 0x00400000u, 0x80400000u,  // denormals
      0x00800000u, 0x80800000u, 0x7F7FFFFFu, 0xFF7FFFFFu};
  for (uint32_t b : kSpecials) v.push_back(float_of(b));
  while (v.size() % 16 != 7) v.push_back(float_of(static_cast<uint32_t>(v.size()) * 2654435761u));
  return v;  // size % 16 == 7: the whole-vector calls below end in a masked tail
}

const std::vector<float>& sample() {
  static const std::vector<float> s = dense_sample();
  return s;
}

struct Fn {
  const char* name;
  float (*scalar)(float);
  void (*simd)(const float*, int64_t, float*);
};
const Fn kFns[] = {
    {"exp", [](float x) { return fm::exp_f32(x); }, cpu::exp_f32_avx512},
    {"log1p", [](float x) { return fm::log1p_f32(x); }, cpu::log1p_f32_avx512},
    {"softplus", [](float x) { return fm::softplus_f32(x); }, cpu::softplus_f32_avx512},
    {"sqrtsoftplus", [](float x) { return fm::sqrtsoftplus_f32(x); }, cpu::sqrtsoftplus_f32_avx512},
    {"sigmoid", [](float x) { return fm::sigmoid_f32(x); }, cpu::sigmoid_f32_avx512},
};

// Number of elements whose bits differ; the first one is described in *first.
int64_t mismatches(const std::vector<float>& in, const std::vector<float>& want,
                   const std::vector<float>& got, std::string* first) {
  int64_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (bits_of(want[i]) != bits_of(got[i]) && bad++ == 0) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "element %zu: input 0x%08x (%.9g): scalar 0x%08x, avx512 0x%08x", i,
                    bits_of(in[i]), in[i], bits_of(want[i]), bits_of(got[i]));
      *first = buf;
    }
  return bad;
}

void require_same_bits(const float* want, const float* got, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    INFO("index " << i << ": scalar " << want[i] << ", avx512 " << got[i]);
    REQUIRE(bits_of(want[i]) == bits_of(got[i]));
  }
}

// Adversarial logit rows of length E: thresholds, extremes, non-finite values, ties, zeros of both
// signs (softmax's max), spreads that push exp(l - max) into subnormals, and plain random rows.
std::vector<std::vector<float>> adversarial_rows(int64_t E, uint64_t seed) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float denorm = std::numeric_limits<float>::denorm_min();
  Rng rng(seed);
  std::vector<std::vector<float>> rows;
  const auto add = [&](auto gen) {
    std::vector<float> r(static_cast<size_t>(E));
    for (int64_t e = 0; e < E; ++e) r[e] = gen(e);
    rows.push_back(r);
  };
  for (float scale : {0.01f, 1.0f, 3.0f, 30.0f, 100.0f, 300.0f})
    add([&](int64_t) { return rng.uniform(-scale, scale); });
  const float kEdges[] = {20.0f, -20.0f, 89.0f, -104.0f, 0.0f, -1.0f, 88.72283935546875f, -207.9f};
  add([&](int64_t e) {  // thresholds and their neighbours
    const float t = kEdges[e % 8];
    return t == 0.0f ? (e % 3 ? 0.0f : -0.0f) : float_of(bits_of(t) + static_cast<uint32_t>(e % 5) - 2u);
  });
  add([&](int64_t e) { return e % 2 ? 0.0f : -0.0f; });              // ±0 only: softmax's max is a zero
  add([&](int64_t e) { return e % 3 ? -0.0f : -(1.0f + e); });      // max -0 at index 1
  add([&](int64_t) { return 0.125f; });                              // all equal
  add([&](int64_t e) { return e % 4 ? denorm * static_cast<float>(e) : -denorm; });
  add([&](int64_t e) { return e == E / 2 ? 0.0f : -90.0f - static_cast<float>(e % 40); });  // subnormal exps
  add([&](int64_t e) { return static_cast<float>(e % 7) * 1e30f - 3e30f; });
  add([&](int64_t e) { return e == E - 1 ? nan : rng.uniform(-5, 5); });   // NaN in the tail
  add([&](int64_t e) { return e == 0 ? -inf : rng.uniform(-5, 5); });
  add([&](int64_t e) { return e == E / 3 ? inf : rng.uniform(-5, 5); });
  add([&](int64_t) { return -inf; });
  add([&](int64_t) { return inf; });
  add([&](int64_t e) { return e % 2 ? inf : -inf; });
  add([&](int64_t e) { return e % 5 == 1 ? -inf : rng.uniform(-30, 30); });
  add([&](int64_t) { return float_of(static_cast<uint32_t>(rng.next())); });  // any bit pattern
  return rows;
}

}  // namespace

TEST_CASE("AVX-512 exp, log1p, softplus, sqrtsoftplus, sigmoid equal fmath bit for bit", "[cpu][simd]") {
  if (!have_avx512()) {
    WARN("this CPU has no AVX-512F: nothing to compare");
    return;
  }
  const std::vector<float>& in = sample();
  std::vector<float> want(in.size()), got(in.size());
  for (const Fn& fn : kFns) {
    for (size_t i = 0; i < in.size(); ++i) want[i] = fn.scalar(in[i]);
    std::fill(got.begin(), got.end(), float_of(0xA5A5A5A5u));  // an element never written shows
    fn.simd(in.data(), static_cast<int64_t>(in.size()), got.data());
    std::string first;
    const int64_t bad = mismatches(in, want, got, &first);
    INFO(fn.name << " over " << in.size() << " inputs: " << bad << " differ; first " << first);
    REQUIRE(bad == 0);
  }
}

TEST_CASE("AVX-512 exp_of_difference equals the scalar one bit for bit", "[cpu][simd]") {
  if (!have_avx512()) return;
  const std::vector<float>& in = sample();
  std::vector<float> want(in.size()), got(in.size());
  const float inf = std::numeric_limits<float>::infinity();
  // b is softmax's row max; also b below a, b non-finite, b a zero of either sign or subnormal.
  for (float b : {0.0f, -0.0f, 1.0f, 2.5f, -3.75f, 20.0f, 88.0f, -100.0f, 1e30f, -1e30f, 1e-40f,
                  3.0e38f, inf, -inf, std::numeric_limits<float>::quiet_NaN()}) {
    for (size_t i = 0; i < in.size(); ++i) want[i] = epilogue::exp_of_difference(in[i], b);
    std::fill(got.begin(), got.end(), float_of(0xA5A5A5A5u));
    cpu::exp_of_difference_avx512(in.data(), b, static_cast<int64_t>(in.size()), got.data());
    std::string first;
    const int64_t bad = mismatches(in, want, got, &first);
    INFO("b = " << b << ": " << bad << " of " << in.size() << " differ; first " << first);
    REQUIRE(bad == 0);
  }
}

TEST_CASE("AVX-512 elementwise calls: every tail length, unaligned, in place", "[cpu][simd]") {
  if (!have_avx512()) return;
  const std::vector<float>& s = sample();
  for (const Fn& fn : kFns)
    for (int64_t n = 0; n <= 49; ++n)
      for (int64_t offset : {0, 1, 3, 13}) {
        const float* in = s.data() + 1000 * n + offset;  // a varied slice of the sample
        std::vector<float> want(static_cast<size_t>(n)), out(static_cast<size_t>(n) + 32, -123.0f);
        for (int64_t i = 0; i < n; ++i) want[i] = fn.scalar(in[i]);
        fn.simd(in, n, out.data() + 1);  // out misaligned by one float, guards on both sides
        INFO(fn.name << " n " << n << " offset " << offset);
        REQUIRE(bits_of(out[0]) == bits_of(-123.0f));
        require_same_bits(want.data(), out.data() + 1, n);
        for (size_t i = static_cast<size_t>(n) + 1; i < out.size(); ++i) REQUIRE(out[i] == -123.0f);
        std::vector<float> inplace(in, in + n);
        fn.simd(inplace.data(), n, inplace.data());
        require_same_bits(want.data(), inplace.data(), n);
      }
}

TEST_CASE("AVX-512 activate_row equals epilogue::activate_row on adversarial rows", "[cpu][simd]") {
  if (!have_avx512()) return;
  for (ScoreFn score : {ScoreFn::SqrtSoftplus, ScoreFn::Sigmoid, ScoreFn::Softmax})
    for (int64_t E : {1, 2, 7, 15, 16, 17, 31, 33, 70, 128, 255, 256, 384, 1000}) {
      auto rows = adversarial_rows(E, 100 + static_cast<uint64_t>(E));
      // Consecutive slices of the dense sample as rows too (every class, in every lane position).
      for (size_t start = 0; start + static_cast<size_t>(E) <= sample().size() && rows.size() < 60;
           start += sample().size() / 41)
        rows.emplace_back(sample().begin() + static_cast<std::ptrdiff_t>(start),
                          sample().begin() + static_cast<std::ptrdiff_t>(start) + E);
      for (size_t r = 0; r < rows.size(); ++r) {
        std::vector<float> want(static_cast<size_t>(E)), got(static_cast<size_t>(E) + 1, -5.0f);
        epilogue::activate_row(rows[r].data(), E, score, want.data());
        cpu::activate_row_avx512(rows[r].data(), E, score, got.data());
        INFO(to_string(score) << " E " << E << " row " << r);
        require_same_bits(want.data(), got.data(), E);
        REQUIRE(got[E] == -5.0f);  // nothing written past the row
      }
    }
}

TEST_CASE("CPU epilogue: AVX-512 writes what the scalar and AVX2 epilogues write", "[cpu][simd]") {
  if (!have_avx512()) return;
  struct Case {
    ScoreFn score;
    int64_t E;
    int k, groups, topk_groups;
    bool renormalize, bias;
  };
  const Case kCases[] = {{ScoreFn::SqrtSoftplus, 384, 6, 1, 1, true, true},
                         {ScoreFn::SqrtSoftplus, 70, 5, 1, 1, false, false},
                         {ScoreFn::Sigmoid, 256, 8, 8, 4, true, true},
                         {ScoreFn::Sigmoid, 33, 3, 1, 1, true, false},
                         {ScoreFn::Softmax, 128, 8, 1, 1, true, false},
                         {ScoreFn::Softmax, 17, 2, 1, 1, false, true}};
  for (const Case& c : kCases) {
    RouterConfig cfg;
    cfg.hidden = 64;
    cfg.experts = c.E;
    cfg.top_k = c.k;
    cfg.score = c.score;
    cfg.groups = c.groups;
    cfg.topk_groups = c.topk_groups;
    cfg.renormalize = c.renormalize;
    cfg.scale = 2.5f;
    const auto bias = uniform_vector(static_cast<size_t>(c.E), -0.1f, 0.1f, 7);
    const epilogue::Params p = epilogue::Params::from(cfg, c.bias ? bias.data() : nullptr);
    const auto rows = adversarial_rows(c.E, 300 + static_cast<uint64_t>(c.E));
    std::vector<float> logits;
    for (const auto& r : rows) logits.insert(logits.end(), r.begin(), r.end());
    const int64_t n = static_cast<int64_t>(rows.size());
    const int threads = 2;
    std::vector<float> act(static_cast<size_t>(threads * c.E));
    std::vector<char> groups(static_cast<size_t>(threads * c.groups));
    RouteOptions o;
    Outputs base(n, c.k);
    int64_t base_nonfinite = -1;
    for (cpu::Isa isa : {cpu::Isa::Scalar, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
      if (!cpu::isa_supported(isa)) continue;
      Outputs out(n, c.k);
      const cpu::EpilogueBlock b{logits.data(), n, 0, &o, out.weights.data(), out.ids.data(),
                                 act.data(), groups.data(), threads};
      const int64_t nonfinite = cpu::epilogue_rows(isa, cfg, p, b);
      if (isa == cpu::Isa::Scalar) {
        base = out;
        base_nonfinite = nonfinite;
        continue;
      }
      INFO(to_string(c.score) << " E " << c.E << " isa " << cpu::to_string(isa));
      CHECK(nonfinite == base_nonfinite);
      require_same_bits(base.weights.data(), out.weights.data(), n * c.k);
      REQUIRE(out.ids == base.ids);
    }
  }
}

namespace {
struct IsaOverride {  // sets MOEROUTER_CPU_ISA for one scope
  explicit IsaOverride(const char* isa) { setenv("MOEROUTER_CPU_ISA", isa, 1); }
  ~IsaOverride() { unsetenv("MOEROUTER_CPU_ISA"); }
};
}  // namespace

TEST_CASE("CPU router: MOEROUTER_CPU_ISA=avx512 routes adversarial rows like scalar", "[cpu][simd]") {
  if (!have_avx512()) return;
  for (const std::string name : {"dsv4-pro", "dsv3", "qwen3-moe", "mixtral"}) {
    RouterConfig cfg = preset(name);
    const int64_t E = cfg.experts;
    cfg.hidden = E;  // W = 4 I: logit e = 4 x_e exactly, so the rows below reach the epilogue
    std::vector<float> w(static_cast<size_t>(E * E), 0.0f);
    for (int64_t e = 0; e < E; ++e) w[e * E + e] = 4.0f;
    const auto bias = uniform_vector(static_cast<size_t>(E), -0.1f, 0.1f, 9);
    auto router = make_router(cfg, Device::Cpu);
    router->set_weights(TensorView::matrix(w.data(), E, E), TensorView::vector(bias.data(), E));
    std::vector<float> x;
    for (auto& r : adversarial_rows(E, 500 + static_cast<uint64_t>(E)))
      for (float v : r) x.push_back(v * 0.25f);  // NaN/inf rows: NaN/inf logits (0 * inf = NaN)
    const auto more = uniform_vector(static_cast<size_t>(50 * E), -3, 3, 11);
    x.insert(x.end(), more.begin(), more.end());
    const int64_t n = static_cast<int64_t>(x.size()) / E;
    std::vector<float> logits_scalar(static_cast<size_t>(n * E)), logits_avx512(logits_scalar.size());
    RouteOptions os, ov;
    os.logits_out = TensorView::matrix(logits_scalar.data(), n, E);
    ov.logits_out = TensorView::matrix(logits_avx512.data(), n, E);
    const Outputs want = [&] { IsaOverride o("scalar"); return route_f32(*router, x, n, os); }();
    const Outputs got = [&] { IsaOverride o("avx512"); return route_f32(*router, x, n, ov); }();
    INFO(name);
    REQUIRE(std::memcmp(logits_scalar.data(), logits_avx512.data(), logits_scalar.size() * 4) == 0);
    REQUIRE(got.ids == want.ids);
    require_same_bits(want.weights.data(), got.weights.data(), n * cfg.top_k);
  }
}
