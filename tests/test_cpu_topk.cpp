// The SIMD threshold-filter top-k (backends/cpu/src/topk*) against epilogue::select_topk, the
// definition: identical ids in identical order on random rows, tie-heavy rows (few distinct values,
// all equal, ±0), rows with NaN / ±inf / denormals, sorted rows (every expert beats the running
// k-th best), k = E, group-limited selection, with and without bias, for every ISA the CPU has.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../backends/cpu/src/topk.hpp"
#include "moerouter/cpu.hpp"
#include "moerouter/epilogue.hpp"
#include "support/catch.hpp"
#include "support/test_data.hpp"

using namespace moerouter;
using namespace moerouter::testing;

namespace {

std::vector<cpu::Isa> simd_isas() {
  std::vector<cpu::Isa> v{cpu::Isa::Scalar};  // the dispatcher's scalar case is the definition itself
  if (cpu::isa_supported(cpu::Isa::Avx2)) v.push_back(cpu::Isa::Avx2);
  if (cpu::isa_supported(cpu::Isa::Avx512)) v.push_back(cpu::Isa::Avx512);
  return v;
}

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kDenorm = 1.0e-40f;

// Row makers: each fills act[E] from the rng.
enum class RowKind { Random, FewValues, AllEqual, SignedZeros, Specials, Ascending, Descending, NaNMostly };

void make_row(RowKind kind, Rng& rng, std::vector<float>& act) {
  const int64_t E = static_cast<int64_t>(act.size());
  const float specials[] = {kNaN, -kNaN, kInf, -kInf, 0.0f, -0.0f, kDenorm, -kDenorm, 1.0f, -1.0f,
                            std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min()};
  for (int64_t e = 0; e < E; ++e) {
    switch (kind) {
      case RowKind::Random: act[e] = rng.uniform(-4, 4); break;
      case RowKind::FewValues: act[e] = static_cast<float>(rng.integer(0, 3)) * 0.25f; break;
      case RowKind::AllEqual: act[e] = 0.5f; break;
      case RowKind::SignedZeros: act[e] = rng.integer(0, 1) ? 0.0f : -0.0f; break;
      case RowKind::Specials: act[e] = specials[rng.integer(0, 11)]; break;
      case RowKind::Ascending: act[e] = static_cast<float>(e); break;
      case RowKind::Descending: act[e] = static_cast<float>(E - e); break;
      case RowKind::NaNMostly: act[e] = rng.integer(0, 9) == 0 ? rng.uniform(-1, 1) : kNaN; break;
    }
  }
}

struct Case {
  int64_t experts;
  int k;
  int groups, topk_groups;
};

void check_case(const Case& c, bool with_bias, RowKind bias_kind, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> act(static_cast<size_t>(c.experts)), bias(static_cast<size_t>(c.experts));
  epilogue::Params p{c.experts, c.k, ScoreFn::Sigmoid, c.groups, c.topk_groups, true, 1.0f,
                     with_bias ? bias.data() : nullptr};
  std::vector<bool> dummy;
  bool flags_want[kMaxExperts], flags_got[kMaxExperts];
  for (RowKind kind : {RowKind::Random, RowKind::FewValues, RowKind::AllEqual, RowKind::SignedZeros,
                       RowKind::Specials, RowKind::Ascending, RowKind::Descending, RowKind::NaNMostly}) {
    for (int rep = 0; rep < 8; ++rep) {
      make_row(kind, rng, act);
      if (with_bias) make_row(bias_kind, rng, bias);
      int32_t want[kMaxTopK], got[kMaxTopK];
      epilogue::select_topk(act.data(), p, flags_want, want);
      for (cpu::Isa isa : simd_isas()) {
        std::memset(got, 0xA5, sizeof(got));
        cpu::select_topk(isa, act.data(), p, flags_got, got);
        INFO("isa " << cpu::to_string(isa) << " E " << c.experts << " k " << c.k << " groups "
                    << c.groups << "/" << c.topk_groups << " bias " << with_bias << " row kind "
                    << static_cast<int>(kind) << " rep " << rep);
        REQUIRE(std::memcmp(want, got, sizeof(int32_t) * c.k) == 0);
      }
    }
  }
}

}  // namespace

TEST_CASE("SIMD top-k returns select_topk's ids on random, tie-heavy and special rows", "[cpu][topk]") {
  const Case cases[] = {
      {1, 1, 1, 1},     {7, 3, 1, 1},     {8, 8, 1, 1},     {15, 15, 1, 1},  {16, 16, 1, 1},
      {17, 5, 1, 1},    {31, 31, 1, 1},   {32, 32, 1, 1},   {33, 32, 1, 1},  {64, 6, 1, 1},
      {70, 5, 1, 1},    {128, 8, 1, 1},   {256, 6, 1, 1},   {384, 6, 1, 1},  {384, 1, 1, 1},
      {1000, 32, 1, 1}, {1024, 32, 1, 1}, {1024, 2, 1, 1},
      // group-limited (dsv3 is 256 experts, 8 groups, 4 kept, k = 8)
      {256, 8, 8, 4},   {256, 8, 8, 1},   {72, 7, 9, 3},    {1024, 32, 32, 5}, {24, 24, 24, 24},
      {40, 6, 5, 2},
  };
  uint64_t seed = 1;
  for (const Case& c : cases) {
    check_case(c, false, RowKind::Random, seed++);
    check_case(c, true, RowKind::Random, seed++);
    check_case(c, true, RowKind::FewValues, seed++);
    check_case(c, true, RowKind::Specials, seed++);
  }
}
