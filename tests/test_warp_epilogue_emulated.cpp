// The CUDA backend's warp epilogue (backends/cuda/src/epilogue_device.cuh) compiled for the CPU and
// run on an emulated warp (support/simt_warp.hpp), against the CPU epilogue (activate_row,
// select_topk, gather_weights) bit for bit. It runs in CI, where no GPU is: the selection logic of
// the GPU epilogue — register path (also for groups of 32 experts), list path for other groups and
// hash routing, and the activation screen — is tested on every commit, not only when a GPU is lent. What it cannot test is the GPU's
// own arithmetic (the device run does that): here the screen's approximate activation is the exact
// one pushed to the edge of the bound the exhaustive GPU test checks, in a random direction per
// expert, which is the worst the selection's margin has to absorb.
#include "support/catch.hpp"

#if !defined(MOEROUTER_TEST_CUDA)

TEST_CASE("warp epilogue on an emulated warp", "[warp-emulated]") {
  WARN("skipped: CUDA backend not built (the warp epilogue's headers need the CUDA toolkit)");
}

#else

#include <cuda_runtime.h>

#include "support/simt_warp.hpp"
// simt_warp.hpp first: it turns the device code below into host code.
#include "../backends/cuda/src/epilogue_device.cuh"
#include "../backends/cuda/src/epilogue_screened.cuh"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "moerouter/config.hpp"
#include "moerouter/epilogue.hpp"
#include "support/test_data.hpp"

using namespace moerouter;
namespace det = moerouter::cuda::detail;

namespace {

// The screened activation for the emulation: the exact one moved by (1 -+ 0.999 * 2^-13), the
// direction a hash of (logit bits, salt), so a row's experts err both ways.
uint32_t g_screen_salt = 0;
float g_screen_error = 0.999f;  // in units of the checked bound (kScreenCheckedRel)

uint32_t mix(uint32_t v) {
  v ^= v >> 16;
  v *= 0x7FEB352Du;
  v ^= v >> 15;
  v *= 0x846CA68Bu;
  return v ^ (v >> 16);
}

}  // namespace

namespace moerouter::cuda::detail {
float screen_activation(float l, ScoreFn score) {
  float a;
  epilogue::activate_row(&l, 1, score, &a);
  if (!std::isfinite(a)) return a;
  const uint32_t h = mix(__float_as_uint(l) ^ g_screen_salt);
  const float rel = g_screen_error * kScreenCheckedRel;
  return (h & 1) ? a * (1.0f + rel) : a * (1.0f - rel);
}
}  // namespace moerouter::cuda::detail

namespace {

struct RowResult {
  std::vector<float> weights, act_logits;
  std::vector<int32_t> ids;
  std::vector<int> counts;
  unsigned long long nonfinite[2] = {0, 0};
};

// The CPU epilogue of DESIGN.md on one row's logits.
RowResult cpu_row(const epilogue::Params& p, const float* logits, const int64_t* hash_ids) {
  RowResult r;
  const int64_t E = p.experts;
  std::vector<float> act(static_cast<size_t>(E));
  epilogue::activate_row(logits, E, p.score, act.data());
  r.ids.assign(static_cast<size_t>(p.top_k), -1);
  if (hash_ids) {
    for (int j = 0; j < p.top_k; ++j) r.ids[j] = static_cast<int32_t>(hash_ids[j]);
  } else {
    std::vector<char> flags(static_cast<size_t>(p.groups));
    epilogue::select_topk(act.data(), p, reinterpret_cast<bool*>(flags.data()), r.ids.data());
  }
  r.weights.assign(static_cast<size_t>(p.top_k), 0.0f);
  epilogue::gather_weights(act.data(), r.ids.data(), p, r.weights.data());
  return r;
}

// The warp epilogue on one row: `screen` runs what route_rows_fresh_kernel runs (the standalone
// kernel's Fresh instance: screen, group slots) where it applies, else warp_route_row (what the
// fused routers call: list path for groups).
RowResult warp_row(const epilogue::Params& p, const float* logits, const int64_t* token, const int64_t* table,
                   bool screen) {
  const int64_t E = p.experts;
  RowResult r;
  r.ids.assign(static_cast<size_t>(p.top_k), -7);
  r.weights.assign(static_cast<size_t>(p.top_k), std::nanf(""));
  r.counts.assign(static_cast<size_t>(E), 0);
  std::vector<float> L(logits, logits + E);
  r.act_logits.assign(static_cast<size_t>(E), 0.0f);
  det::EpilogueArgs a{};
  a.logits = L.data();
  a.n = 1;
  a.params = p;
  a.weights_out = r.weights.data();
  a.ids_out = r.ids.data();
  a.logits_out = r.act_logits.data();
  a.counts = r.counts.data();
  a.counts_i64 = false;
  a.token_ids = token;
  a.token_ids_i64 = true;
  a.hash_table = table;
  a.hash_table_i64 = true;
  a.nonfinite = r.nonfinite;
  a.screen = screen;
  a.group_registers = screen;  // the new paths together, as the GPU tests turn them on
  det::WarpRowScratch scratch{};
  det::ScreenScratch screen_scratch{};
  simt::run([&] {
    if (screen && (det::register_path_applies(a) || det::group_register_path_applies(a))) {
      det::with_register_width(E, [&](auto width) {
        constexpr int J = decltype(width)::value;
        if (p.score == ScoreFn::Softmax)  // route_rows_fresh_kernel's two branches
          det::warp_route_row_registers<J, true>(a, 0, L.data(), false);
        else
          det::warp_route_rows_prefetched<J>(a, 0, 1, screen_scratch);
      });
    } else {
      det::warp_route_row(a, 0, L.data(), scratch);
    }
  });
  return r;
}

// Whether the screened path decides this row (true) or hands it to the exact path (false), at J
// experts per lane (E <= 32 J).
template <int J>
bool screen_decides(const epilogue::Params& p, const float* logits) {
  std::vector<float> weights(static_cast<size_t>(p.top_k)), L(logits, logits + p.experts);
  std::vector<int32_t> ids(static_cast<size_t>(p.top_k));
  det::EpilogueArgs a{};
  a.logits = L.data();
  a.n = 1;
  a.params = p;
  a.weights_out = weights.data();
  a.ids_out = ids.data();
  bool decided = false;
  det::ScreenScratch screen_scratch{};
  simt::run([&] {
    float l[J];
    for (int j = 0; j < J; ++j) l[j] = simt::lane() + 32 * j < p.experts ? L[simt::lane() + 32 * j] : 0.0f;
    const bool d = det::warp_route_row_screened<J>(a, 0, l, screen_scratch);
    if (simt::lane() == 0) decided = d;
  });
  return decided;
}

uint32_t bits(float f) { return __float_as_uint(f); }

// Compares one row; returns "" or what differs.
std::string compare_row(const epilogue::Params& p, const float* logits, const int64_t* token, const int64_t* table,
                        bool screen) {
  const RowResult want = cpu_row(p, logits, table ? table + *token * p.top_k : nullptr);
  const RowResult got = warp_row(p, logits, token, table, screen);
  const auto list = [](const std::vector<int32_t>& v) {
    std::string s;
    for (int32_t id : v) s += " " + std::to_string(id);
    return s;
  };
  for (int j = 0; j < p.top_k; ++j) {
    if (got.ids[j] != want.ids[j])
      return "rank " + std::to_string(j) + ": ids" + list(got.ids) + ", want" + list(want.ids);
    if (bits(got.weights[j]) != bits(want.weights[j]))
      return "rank " + std::to_string(j) + ": weight " + std::to_string(got.weights[j]) + " want " +
             std::to_string(want.weights[j]);
  }
  std::vector<int> counts(static_cast<size_t>(p.experts), 0);
  for (int32_t id : want.ids) ++counts[id];
  if (got.counts != counts) return "counts differ";
  bool finite = true;
  for (int64_t e = 0; e < p.experts; ++e) {
    finite = finite && std::isfinite(logits[e]);
    const float c = fmath::canonicalize(logits[e]);
    if (bits(got.act_logits[e]) != bits(c)) return "logits_out[" + std::to_string(e) + "] differs";
  }
  if (got.nonfinite[0] != (finite ? 0u : 1u)) return "non-finite count " + std::to_string(got.nonfinite[0]);
  return "";
}

epilogue::Params params(int64_t E, int k, ScoreFn s, int G, int TG, const float* bias) {
  RouterConfig c;
  c.hidden = 1;
  c.experts = E;
  c.top_k = k;
  c.score = s;
  c.groups = G;
  c.topk_groups = TG;
  c.scale = 2.5f;
  return epilogue::Params::from(c, bias);
}

// Row kinds: spread logits, crowded biased scores (the bias cancels a base row's activations up to
// offsets of 0, 1e-6 or 1e-3 and the row moves by sigma), exact ties, and special values.
// A base row of logits and a bias that cancels its activations up to small offsets, so rows near
// the base crowd the k-th place: every third expert exactly (offset 0), the others within `near`
// or `far` (alternately).
void crowding_bias(int64_t E, ScoreFn score, float near, float far, testing::Rng& rng, std::vector<float>& base,
                   std::vector<float>& bias) {
  base.assign(static_cast<size_t>(E), 0.0f);
  bias.assign(static_cast<size_t>(E), 0.0f);
  for (int64_t e = 0; e < E; ++e) base[e] = rng.uniform(-3.0f, 3.0f);
  for (int64_t e = 0; e < E; ++e) {
    float a;
    epilogue::activate_row(&base[e], 1, score, &a);
    const float offset = (e % 3 == 0) ? 0.0f : rng.uniform(-1.0f, 1.0f) * ((e % 3 == 1) ? near : far);
    bias[e] = -a + offset;
  }
}

std::vector<float> make_row(int kind, int64_t E, float sigma, const std::vector<float>& base, testing::Rng& rng) {
  std::vector<float> l(static_cast<size_t>(E));
  for (int64_t e = 0; e < E; ++e) {
    switch (kind) {
      case 0: l[e] = rng.uniform(-6.0f, 6.0f); break;
      case 1: l[e] = base[e] + sigma * rng.uniform(-1.0f, 1.0f); break;
      case 2: l[e] = static_cast<float>(static_cast<int>(rng.uniform(0.0f, 4.0f))) - 1.0f; break;
      default: l[e] = base[e]; break;
    }
  }
  if (kind == 3) {  // special values at random places
    const float specials[] = {std::nanf(""), INFINITY, -INFINITY, 1e30f, -1e30f, 1e-40f, -0.0f, 25.0f, -30.0f, -120.0f};
    for (int i = 0; i < 4; ++i) l[rng.next() % static_cast<uint64_t>(E)] = specials[rng.next() % 10];
  }
  return l;
}

// A bias that cancels the activations of the row `l` up to `off`: sel[e] = off[e] up to rounding,
// so a test places every expert's selection score where it wants it.
std::vector<float> bias_to_offsets(const std::vector<float>& l, const std::vector<float>& off, ScoreFn score) {
  std::vector<float> bias(l.size());
  for (size_t e = 0; e < l.size(); ++e) {
    float a;
    epilogue::activate_row(&l[e], 1, score, &a);
    bias[e] = -a + off[e];
  }
  return bias;
}

// One contested row under the screen: whether it decided it, and whether its ids and weights were
// wrong with the screen's error at its bound and 64 times past it.
struct ScreenTally {
  int decided = 0, wrong_within = 0, wrong_past = 0;
};
template <int J>
void tally_screen(const epilogue::Params& p, const std::vector<float>& l, testing::Rng& rng, ScreenTally& t) {
  g_screen_salt = static_cast<uint32_t>(rng.next());
  g_screen_error = 0.999f;
  t.decided += screen_decides<J>(p, l.data());
  t.wrong_within += compare_row(p, l.data(), nullptr, nullptr, true) != "";
  g_screen_error = 64.0f;
  t.wrong_past += compare_row(p, l.data(), nullptr, nullptr, true) != "";
  g_screen_error = 0.999f;
}

// 200 ordinary rows (logits spread over [-6, 6)) under the screen: how many it decided; every row
// must give the CPU's bits either way. `fresh_salt`: a new direction of the screen's error per row.
template <int J>
int ordinary_rows_decided(const epilogue::Params& q, testing::Rng& rng, bool fresh_salt) {
  int decided = 0;
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<float> l(static_cast<size_t>(q.experts));
    for (float& v : l) v = rng.uniform(-6.0f, 6.0f);
    if (fresh_salt) g_screen_salt = static_cast<uint32_t>(rng.next());
    decided += screen_decides<J>(q, l.data());
    REQUIRE(compare_row(q, l.data(), nullptr, nullptr, true) == "");
  }
  return decided;
}

}  // namespace

TEST_CASE("the warp epilogue on an emulated warp equals the CPU epilogue (register and list paths, "
          "screened and exact, crowded, tied and special rows)",
          "[warp-emulated]") {
  struct Shape {
    int64_t E;
    int k;
    ScoreFn score;
    int G, TG;
  };
  const std::vector<Shape> shapes = {
      {384, 6, ScoreFn::SqrtSoftplus, 1, 1}, {256, 8, ScoreFn::Sigmoid, 8, 4}, {256, 8, ScoreFn::Sigmoid, 1, 1},
      {72, 5, ScoreFn::SqrtSoftplus, 1, 1},  {32, 32, ScoreFn::Sigmoid, 1, 1},  {1024, 32, ScoreFn::SqrtSoftplus, 1, 1},
      {8, 2, ScoreFn::Softmax, 1, 1},        {96, 7, ScoreFn::Sigmoid, 12, 3},  {1, 1, ScoreFn::SqrtSoftplus, 1, 1},
      {256, 8, ScoreFn::SqrtSoftplus, 8, 1}, {256, 32, ScoreFn::Sigmoid, 8, 8}, {1024, 8, ScoreFn::Sigmoid, 32, 3},
      {64, 4, ScoreFn::Softmax, 2, 1},       {512, 6, ScoreFn::Sigmoid, 8, 2}};
  testing::Rng rng(2026);
  int64_t rows = 0;
  for (const Shape& sh : shapes) {
    const int64_t E = sh.E;
    // Bias that cancels a base row's activations up to small offsets (crowds the k-th place).
    std::vector<float> base, bias;
    crowding_bias(E, sh.score, 1e-6f, 1e-3f, rng, base, bias);
    for (bool with_bias : {false, true}) {
      const epilogue::Params p = params(E, sh.k, sh.score, sh.G, sh.TG, with_bias ? bias.data() : nullptr);
      for (int kind = 0; kind < 4; ++kind)
        for (float sigma : {0.0f, 1e-6f, 1e-4f, 1e-2f, 1.0f}) {
          if (kind != 1 && sigma != 0.0f) continue;
          for (int rep = 0; rep < 6; ++rep) {
            g_screen_salt = static_cast<uint32_t>(rng.next());
            const std::vector<float> l = make_row(kind, E, sigma, base, rng);
            for (bool screen : {false, true}) {
              const std::string diff = compare_row(p, l.data(), nullptr, nullptr, screen);
              INFO("E=" << E << " k=" << sh.k << " " << to_string(sh.score) << " G=" << sh.G << " bias=" << with_bias
                        << " kind=" << kind << " sigma=" << sigma << " screen=" << screen);
              REQUIRE(diff == "");
              ++rows;
            }
          }
        }
    }
  }
  // Hash routing takes the list path: ids from the table, weights from the row.
  {
    const epilogue::Params p = params(72, 5, ScoreFn::SqrtSoftplus, 1, 1, nullptr);
    std::vector<int64_t> table(10 * 5);
    for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int64_t>((i * 37) % 72);
    for (int64_t t = 0; t < 10; ++t) {
      const std::vector<float> base(72, 0.0f);
      const std::vector<float> l = make_row(0, 72, 0.0f, base, rng);
      REQUIRE(compare_row(p, l.data(), &t, table.data(), false) == "");
      ++rows;
    }
  }
  std::printf("warp epilogue (emulated warp) == CPU epilogue on %lld rows\n", static_cast<long long>(rows));
}

TEST_CASE("the emulated screen decides rows (ordinary and crowded), an error 64x past its bound gives wrong ids",
          "[warp-emulated]") {
  // Rows where the k-th place is contested: the bias cancels the row's activations up to offsets,
  // five experts clearly ahead (0.2), four contenders for rank 6 at 0.15 + {0, 1e-6, 0, -1e-6}
  // (gaps far inside the screen's error of ~2.4e-4, two of them tied up to rounding), the rest
  // spread below 0.1. The screen keeps all contenders as candidates and the exact scores order
  // them: the CPU's bits. With the screen's error 64 times its bound (~0.015), contenders fall
  // below the threshold: wrong ids on some rows, which shows that the screened path really decides
  // these rows and that the comparison would see a margin that is too thin.
  const int64_t E = 384;
  testing::Rng rng(7);
  ScreenTally tally;
  for (int rep = 0; rep < 40; ++rep) {
    std::vector<float> l(static_cast<size_t>(E)), off(static_cast<size_t>(E));
    for (float& v : l) v = rng.uniform(-3.0f, 3.0f);
    for (float& v : off) v = rng.uniform(-0.1f, 0.1f);
    const int first = static_cast<int>(rng.next() % 32);
    const float contested[4] = {0.15f, 0.15f + 1e-6f, 0.15f, 0.15f - 1e-6f};
    for (int i = 0; i < 9; ++i) {  // distinct lanes, spread over the slots
      const int64_t e = (first + 3 * i) % 32 + 32 * ((i * 5) % 12);
      off[e] = i < 5 ? 0.2f + 0.01f * static_cast<float>(i) : contested[i - 5];
    }
    const std::vector<float> bias = bias_to_offsets(l, off, ScoreFn::SqrtSoftplus);
    tally_screen<12>(params(E, 6, ScoreFn::SqrtSoftplus, 1, 1, bias.data()), l, rng, tally);
  }
  std::printf("contested rows: the screen decided %d of 40; error at its bound: %d wrong; 64x past it: %d wrong\n",
              tally.decided, tally.wrong_within, tally.wrong_past);
  REQUIRE(tally.decided >= 35);
  REQUIRE(tally.wrong_within == 0);
  REQUIRE(tally.wrong_past > 0);
  // Ordinary rows (logits spread over [-6, 6), a small bias) should nearly all be decided by the
  // screen, or it saves nothing.
  std::vector<float> small_bias(static_cast<size_t>(E));
  for (float& b : small_bias) b = rng.uniform(-0.1f, 0.1f);
  const epilogue::Params q = params(E, 6, ScoreFn::SqrtSoftplus, 1, 1, small_bias.data());
  const int ordinary = ordinary_rows_decided<12>(q, rng, false);
  std::printf("ordinary rows: the screen decided %d of 200\n", ordinary);
  REQUIRE(ordinary >= 190);
}

TEST_CASE("the emulated screen decides group-limited rows (groups of 32 experts), contested group scores "
          "included, with the CPU's ids, and an error 64x past its bound gives wrong ids",
          "[warp-emulated]") {
  // DeepSeek-V3's shape: 256 experts in 8 groups of 32, the best 4 groups kept, top 8.
  const int64_t E = 256;
  testing::Rng rng(11);
  // Ordinary rows (logits spread over [-6, 6), a small bias): the screen should decide nearly every
  // row, or it saves nothing.
  std::vector<float> small_bias(static_cast<size_t>(E));
  for (float& b : small_bias) b = rng.uniform(-0.1f, 0.1f);
  const epilogue::Params q = params(E, 8, ScoreFn::Sigmoid, 8, 4, small_bias.data());
  const int ordinary = ordinary_rows_decided<8>(q, rng, true);
  std::printf("group-limited ordinary rows: the screen decided %d of 200\n", ordinary);
  REQUIRE(ordinary >= 190);
  // Contested rows: the bias cancels the activations up to offsets; groups 0-2 lead (two experts at
  // 0.5), groups 3 and 4 compete for the last kept place, their second experts 1e-6 apart (far
  // inside the screen's error), and in group 4 a third expert contests the second place, 2e-6
  // behind; the rest trail. The group scores must come from exact activations of each group's
  // candidates: the CPU's ids on every row. With the screen's error 64 times its bound, the true
  // second expert of a group falls below its group's threshold on some rows: wrong ids.
  ScreenTally tally;
  for (int rep = 0; rep < 40; ++rep) {
    std::vector<float> l(static_cast<size_t>(E)), off(static_cast<size_t>(E));
    for (float& v : l) v = rng.uniform(-3.0f, 3.0f);
    for (float& v : off) v = rng.uniform(-0.2f, 0.05f);
    const int lane_a = static_cast<int>(rng.next() % 32), lane_b = (lane_a + 7) % 32, lane_c = (lane_a + 13) % 32;
    for (int g = 0; g < 8; ++g) {
      off[lane_a + 32 * g] = g < 3 ? 0.5f : g < 5 ? 0.3f : 0.1f;
      off[lane_b + 32 * g] = g < 3 ? 0.5f : g == 3 ? 0.2f : g == 4 ? 0.2f + 1e-6f : 0.1f;
    }
    off[lane_c + 32 * 4] = 0.2f - 1e-6f;
    const std::vector<float> bias = bias_to_offsets(l, off, ScoreFn::Sigmoid);
    tally_screen<8>(params(E, 8, ScoreFn::Sigmoid, 8, 4, bias.data()), l, rng, tally);
  }
  std::printf("group-contested rows: the screen decided %d of 40; error at its bound: %d wrong; 64x past it: %d "
              "wrong\n", tally.decided, tally.wrong_within, tally.wrong_past);
  REQUIRE(tally.decided >= 36);
  REQUIRE(tally.wrong_within == 0);
  REQUIRE(tally.wrong_past > 0);
}

TEST_CASE("the standalone kernel's row loop routes rows first, first + stride, ... and no other",
          "[warp-emulated]") {
  // route_rows_fresh_kernel gives each warp rows first + i * stride and loads the next row while it
  // routes the current one; a slip in that hand-over would route a row with its neighbour's logits.
  const int64_t E = 384, n = 11;
  const int k = 6;
  testing::Rng rng(11);
  std::vector<float> logits(static_cast<size_t>(n * E)), bias(static_cast<size_t>(E));
  for (float& v : logits) v = rng.uniform(-6.0f, 6.0f);
  for (float& b : bias) b = rng.uniform(-0.1f, 0.1f);
  const epilogue::Params p = params(E, k, ScoreFn::SqrtSoftplus, 1, 1, bias.data());
  for (const std::pair<int64_t, int64_t>& walk : std::vector<std::pair<int64_t, int64_t>>{{2, 3}, {0, 1}, {10, 4}, {11, 2}}) {
    const int64_t first = walk.first, stride = walk.second;
    std::vector<float> L = logits, weights(static_cast<size_t>(n * k), -7.0f);
    std::vector<int32_t> ids(static_cast<size_t>(n * k), -7);
    det::EpilogueArgs a{};
    a.logits = L.data();
    a.n = n;
    a.params = p;
    a.weights_out = weights.data();
    a.ids_out = ids.data();
    a.screen = true;
    a.group_registers = true;
    det::ScreenScratch scratch{};
    simt::run([&] { det::warp_route_rows_prefetched<12>(a, first, stride, scratch); });
    for (int64_t row = 0; row < n; ++row) {
      INFO("first=" << first << " stride=" << stride << " row=" << row);
      const bool visited = row >= first && (row - first) % stride == 0;
      const RowResult want = cpu_row(p, logits.data() + row * E, nullptr);
      for (int j = 0; j < k; ++j) {
        const size_t i = static_cast<size_t>(row * k + j);
        if (visited) {
          REQUIRE(ids[i] == want.ids[j]);
          REQUIRE(bits(weights[i]) == bits(want.weights[j]));
        } else {
          REQUIRE(ids[i] == -7);
          REQUIRE(weights[i] == -7.0f);
        }
      }
    }
  }
}

TEST_CASE("the decode tail's one-row register selection equals select_topk and gather_weights bit for bit",
          "[warp-emulated]") {
  // Every row kind of make_row (spread, crowded by a cancelling bias, exact ties, special values),
  // with and without bias, E from 1 to 1024, k up to 32: the CPU's ids, weight bits and counts from
  // warp_select_registers<J, true> on the activations, as decode_tail calls it.
  struct Shape {
    int64_t E;
    int k;
    ScoreFn score;
  };
  const std::vector<Shape> shapes = {{384, 6, ScoreFn::SqrtSoftplus}, {256, 8, ScoreFn::Sigmoid},
                                     {72, 5, ScoreFn::SqrtSoftplus},  {32, 32, ScoreFn::Sigmoid},
                                     {1024, 32, ScoreFn::SqrtSoftplus}, {8, 2, ScoreFn::Softmax},
                                     {1, 1, ScoreFn::Sigmoid},        {33, 4, ScoreFn::SqrtSoftplus}};
  testing::Rng rng(77);
  int rows = 0;
  for (const Shape& sh : shapes) {
    const int64_t E = sh.E;
    std::vector<float> base, bias;
    crowding_bias(E, sh.score, 1e-6f, 1e-6f, rng, base, bias);
    for (bool with_bias : {false, true}) {
      const epilogue::Params p = params(E, sh.k, sh.score, 1, 1, with_bias ? bias.data() : nullptr);
      for (int kind = 0; kind < 4; ++kind)
        for (int rep = 0; rep < 8; ++rep) {
          const std::vector<float> l = make_row(kind, E, kind == 1 ? 1e-4f : 0.0f, base, rng);
          std::vector<float> act(static_cast<size_t>(E));
          epilogue::activate_row(l.data(), E, sh.score, act.data());
          const RowResult want = cpu_row(p, l.data(), nullptr);
          std::vector<float> weights(static_cast<size_t>(sh.k), -5.0f);
          std::vector<int32_t> ids(static_cast<size_t>(sh.k), -7);
          std::vector<int> counts(static_cast<size_t>(E), 0);
          det::EpilogueArgs a{};
          a.n = 1;
          a.params = p;
          a.weights_out = weights.data();
          a.ids_out = ids.data();
          a.counts = counts.data();
          det::with_register_width(E, [&](auto width) {
            constexpr int J = decltype(width)::value;
            simt::run([&] {
              float mine[J];
              for (int j = 0; j < J; ++j) {
                const int64_t e = simt::lane() + 32 * j;
                mine[j] = e < E ? act[static_cast<size_t>(e)] : 0.0f;
              }
              det::warp_select_registers<J, true>(a, 0, mine);
            });
          });
          INFO("E=" << E << " k=" << sh.k << " kind=" << kind << " bias=" << with_bias << " rep=" << rep);
          ++rows;
          REQUIRE(ids == want.ids);
          for (int j = 0; j < sh.k; ++j) REQUIRE(bits(weights[j]) == bits(want.weights[j]));
          std::vector<int> want_counts(static_cast<size_t>(E), 0);
          for (int32_t id : want.ids) ++want_counts[id];
          REQUIRE(counts == want_counts);
        }
    }
  }
  REQUIRE(rows == 8 * 2 * 4 * 8);  // every shape, bias or not, row kind and repetition was compared
}

#endif  // MOEROUTER_TEST_CUDA
