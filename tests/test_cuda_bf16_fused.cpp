// The fused bf16 tensor-core router kernel (backends/cuda/src/bf16_fused.cu), called directly:
//  * its epilogue is bit-exact to the CPU epilogue run on its own logits (ids, weights, counts,
//    non-finite count), on every preset and on random, tie-heavy and NaN/inf inputs;
//  * its logits are within the FP32-summation bound of the float64 dot product of the bf16-rounded
//    inputs (the products are exact, so only the summation errs): |err| <= H * 2^-24 * sum |x w|,
//    and exact where every partial sum is exact (small-integer inputs);
//  * F32 x (rounded to bf16 inside the kernel) gives the same logits as bf16 x rounded by core's
//    float_to_bf16, and the logits of a row do not depend on n or the block shape.
// Runs only on an sm_90 device (the kernel's requirement); elsewhere it says why and returns.
#include "support/catch.hpp"

#if !defined(MOEROUTER_TEST_CUDA)

TEST_CASE("CUDA bf16 fused router", "[cuda]") {
  WARN("skipped: CUDA backend not built (no CUDA compiler at configure time)");
}

#else

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "moerouter/bf16_fused_testing.hpp"
#include "moerouter/config.hpp"
#include "moerouter/cuda_testing.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/tensor.hpp"

using namespace moerouter;
namespace ct = moerouter::cuda_testing;
using ct::DeviceBuffer;

namespace {

enum class Kind { Random, Ties, NonFinite };
const char* kind_name(Kind k) { return k == Kind::Random ? "random" : k == Kind::Ties ? "ties" : "nonfinite"; }

// Counter-based generator: big inputs fill fast, and the same (seed, index) gives the same value.
uint64_t mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
float unif(uint64_t seed, uint64_t i) {
  return static_cast<float>(mix(seed * 0x1000003ull ^ mix(i)) >> 40) * (1.0f / 16777216.0f);
}
float gauss(uint64_t seed, uint64_t i) {  // Irwin-Hall(4) scaled to variance 1
  return (unif(seed, 4 * i) + unif(seed, 4 * i + 1) + unif(seed, 4 * i + 2) + unif(seed, 4 * i + 3) - 2.0f) *
         1.7320508f;
}
int small_int(uint64_t seed, uint64_t i) { return static_cast<int>(mix(seed ^ mix(i + 77)) % 5) - 2; }

struct Data {
  std::vector<float> x, w, bias;  // fp32 as given
  std::vector<uint16_t> xb, wb;   // core's float_to_bf16 of them
};

Data make_data(const RouterConfig& c, Kind kind, int64_t n, uint64_t seed) {
  const int64_t H = c.hidden, E = c.experts;
  Data d;
  d.x.resize(static_cast<size_t>(n * H));
  d.w.resize(static_cast<size_t>(E * H));
  d.bias.resize(static_cast<size_t>(E));
  const float ws = 1.0f / std::sqrt(static_cast<float>(H));
  for (size_t i = 0; i < d.w.size(); ++i)
    d.w[i] = kind == Kind::Ties ? 0.125f * small_int(seed + 1, i) : gauss(seed + 1, i) * ws;
  for (size_t i = 0; i < d.x.size(); ++i)
    d.x[i] = kind == Kind::Ties ? static_cast<float>(small_int(seed + 2, i)) : gauss(seed + 2, i);
  for (size_t i = 0; i < d.bias.size(); ++i)
    d.bias[i] = kind == Kind::Ties ? 0.25f * small_int(seed + 3, i) : 0.1f * gauss(seed + 3, i);
  if (kind == Kind::Ties) {  // repeated rows and experts: equal logits everywhere
    for (int64_t r = 1; r < n; r += 3) std::memcpy(&d.x[r * H], &d.x[(r - 1) * H], H * 4);
    for (int64_t e = 1; e < E; e += 2) std::memcpy(&d.w[e * H], &d.w[(e - 1) * H], H * 4);
  }
  if (kind == Kind::NonFinite) {
    const float inf = std::numeric_limits<float>::infinity();
    for (int64_t r = 0; r < n; r += 7) {
      float* row = &d.x[r * H];
      switch ((r / 7) % 3) {
        case 0: row[r % H] = std::numeric_limits<float>::quiet_NaN(); break;
        case 1: row[3] = inf; break;
        default: row[5] = -inf; break;
      }
    }
  }
  d.xb.resize(d.x.size());
  d.wb.resize(d.w.size());
  for (size_t i = 0; i < d.x.size(); ++i) d.xb[i] = float_to_bf16(d.x[i]);
  for (size_t i = 0; i < d.w.size(); ++i) d.wb[i] = float_to_bf16(d.w[i]);
  return d;
}

struct Result {
  std::vector<float> logits, weights;
  std::vector<int32_t> ids, counts;
  std::vector<unsigned long long> nonfinite;
};

// One kernel run with poisoned outputs (0xFF) and guard zones checked afterwards.
Result run(const RouterConfig& c, const Data& d, int64_t n, bool x_bf16, bool with_bias, int block_rows) {
  const int64_t E = c.experts, H = c.hidden, k = c.top_k;
  DeviceBuffer x = x_bf16 ? DeviceBuffer::from(d.xb) : DeviceBuffer::from(d.x);
  DeviceBuffer w = DeviceBuffer::from(d.wb);
  DeviceBuffer bias = DeviceBuffer::from(d.bias);
  DeviceBuffer logits(static_cast<size_t>(n * E) * 4), weights(static_cast<size_t>(n * k) * 4),
      ids(static_cast<size_t>(n * k) * 4), counts(static_cast<size_t>(E) * 4), nonfinite(16);
  logits.fill(0xFF);
  weights.fill(0xFF);
  ids.fill(0xFF);
  counts.fill(0);
  nonfinite.fill(0);
  ct::Bf16FusedCall call;
  call.x = x.data();
  call.x_bf16 = x_bf16;
  call.ld = H;
  call.n = n;
  call.experts = E;
  call.hidden = H;
  call.w_bf16 = static_cast<const uint16_t*>(w.data());
  call.params = epilogue::Params::from(c, with_bias ? static_cast<const float*>(bias.data()) : nullptr);
  call.weights_out = static_cast<float*>(weights.data());
  call.ids_out = static_cast<int32_t*>(ids.data());
  call.logits_out = static_cast<float*>(logits.data());
  call.counts = counts.data();
  call.nonfinite = static_cast<unsigned long long*>(nonfinite.data());
  call.block_rows = block_rows;
  ct::run_bf16_fused(call);
  for (const DeviceBuffer* b : {&logits, &weights, &ids, &counts, &nonfinite}) REQUIRE(b->guards_intact());
  Result r;
  r.logits = logits.to_host<float>();
  r.weights = weights.to_host<float>();
  r.ids = ids.to_host<int32_t>();
  r.counts = counts.to_host<int32_t>();
  r.nonfinite = nonfinite.to_host<unsigned long long>();
  return r;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

// The CPU epilogue on the kernel's own logits must give the kernel's ids, weights, counts and
// non-finite count bit for bit.
void check_epilogue(const RouterConfig& c, const Data& d, bool with_bias, int64_t n, const Result& r) {
  const int64_t E = c.experts, k = c.top_k;
  const epilogue::Params p = epilogue::Params::from(c, with_bias ? d.bias.data() : nullptr);
  std::vector<float> act(static_cast<size_t>(E)), weights(static_cast<size_t>(k));
  std::vector<int32_t> ids(static_cast<size_t>(k)), counts(static_cast<size_t>(E), 0);
  std::vector<uint8_t> flags(static_cast<size_t>(E) + 1);
  int64_t bad_rows = 0, first_bad = -1, nonfinite_rows = 0, first_nonfinite = -1;
  for (int64_t row = 0; row < n; ++row) {
    const float* L = &r.logits[row * E];
    if (!epilogue::row_is_finite(L, E)) {
      if (nonfinite_rows++ == 0) first_nonfinite = row;
    }
    epilogue::activate_row(L, E, c.score, act.data());
    epilogue::select_topk(act.data(), p, reinterpret_cast<bool*>(flags.data()), ids.data());
    epilogue::gather_weights(act.data(), ids.data(), p, weights.data());
    bool ok = true;
    for (int64_t j = 0; j < k; ++j) {
      ok = ok && ids[j] == r.ids[row * k + j];
      ok = ok && std::memcmp(&weights[j], &r.weights[row * k + j], 4) == 0;
      counts[ids[j]]++;
    }
    if (!ok && bad_rows++ == 0) first_bad = row;
  }
  INFO("rows whose ids/weights differ from the CPU epilogue: " << bad_rows << ", first " << first_bad);
  CHECK(bad_rows == 0);
  CHECK(counts == r.counts);
  CHECK(r.nonfinite[0] == static_cast<unsigned long long>(nonfinite_rows));
  if (nonfinite_rows > 0) CHECK(~r.nonfinite[1] == static_cast<unsigned long long>(first_nonfinite));
}

// Logits vs the float64 dot product of the bf16-rounded inputs, on every `stride`-th row.
void check_logits(const RouterConfig& c, const Data& d, Kind kind, int64_t n, const Result& r, int64_t stride) {
  const int64_t E = c.experts, H = c.hidden;
  const double u = std::ldexp(1.0, -24);
  int64_t bad = 0, inexact = 0, checked = 0;
  std::vector<double> xr(static_cast<size_t>(H));
  for (int64_t row = 0; row < n; row += stride) {
    for (int64_t h = 0; h < H; ++h) xr[h] = bf16_to_float(d.xb[row * H + h]);
    for (int64_t e = 0; e < E; ++e) {
      double sum = 0, abs_sum = 0;
      for (int64_t h = 0; h < H; ++h) {
        const double prod = xr[h] * static_cast<double>(bf16_to_float(d.wb[e * H + h]));
        sum += prod;
        abs_sum += std::fabs(prod);
      }
      const float got = r.logits[row * E + e];
      ++checked;
      if (std::isnan(sum)) {
        bad += !std::isnan(got);
      } else if (std::isinf(sum)) {
        bad += static_cast<double>(got) != sum;
      } else {
        bad += !(std::fabs(static_cast<double>(got) - sum) <= static_cast<double>(H) * u * abs_sum);
        inexact += static_cast<double>(got) != sum;
      }
    }
  }
  INFO(checked << " logits checked, " << bad << " outside H * 2^-24 * sum|x w| (or non-finite mismatch)");
  CHECK(bad == 0);
  if (kind == Kind::Ties) CHECK(inexact == 0);  // every partial sum is a small multiple of 1/8
}

}  // namespace

TEST_CASE("CUDA bf16 fused router: epilogue bit-exact on own logits, logits within the bf16 bound", "[cuda]") {
  if (!ct::device_present()) {
    WARN("skipped: no CUDA device");
    return;
  }
  DeviceBuffer probe(16);
  if (!ct::bf16_fused_can_run(384, 7168, probe.data(), true, 7168)) {
    WARN("skipped: the fused bf16 kernel needs an sm_90 device (" << ct::device_name() << ")");
    return;
  }
  for (const char* name : {"dsv4-flash", "dsv4-pro", "dsv3", "qwen3-moe", "mixtral"}) {
    const RouterConfig c = preset(name);
    const bool with_bias = c.score != ScoreFn::Softmax;
    for (Kind kind : {Kind::Random, Kind::Ties, Kind::NonFinite}) {
      for (int64_t n : {int64_t{1}, int64_t{100}, int64_t{1000}}) {
        for (bool x_bf16 : {true, false}) {
          INFO(name << " " << kind_name(kind) << " n=" << n << " x=" << (x_bf16 ? "bf16" : "f32"));
          const Data d = make_data(c, kind, n, 1000 + n);
          const Result r = run(c, d, n, x_bf16, with_bias, 0);
          check_epilogue(c, d, with_bias, n, r);
          check_logits(c, d, kind, n, r, n <= 100 ? 1 : 13);
        }
      }
    }
  }
}

TEST_CASE("CUDA bf16 fused router: n = 16383, F32 x = bf16 x, independent of the block shape and kernel", "[cuda]") {
  if (!ct::device_present()) {
    WARN("skipped: no CUDA device");
    return;
  }
  DeviceBuffer probe(16);
  if (!ct::bf16_fused_can_run(384, 7168, probe.data(), true, 7168)) {
    WARN("skipped: the fused bf16 kernel needs an sm_90 device");
    return;
  }
  const int64_t n = 16383;  // not a multiple of either block shape
  for (const char* name : {"dsv4-flash", "dsv4-pro", "dsv3", "qwen3-moe", "mixtral"}) {
    INFO(name);
    const RouterConfig c = preset(name);
    const bool with_bias = c.score != ScoreFn::Softmax;
    const Data d = make_data(c, Kind::Random, n, 77);
    const Result r128 = run(c, d, n, true, with_bias, 128);
    check_epilogue(c, d, with_bias, n, r128);
    check_logits(c, d, Kind::Random, n, r128, 331);
    const Result r64 = run(c, d, n, true, with_bias, 64);
    CHECK(same_bits(r64.logits, r128.logits));  // batch invariance across block shapes
    const Result rw = run(c, d, n, true, with_bias, 0);  // the wgmma kernel on sm_90
    check_epilogue(c, d, with_bias, n, rw);
    CHECK(same_bits(rw.logits, r128.logits));  // same tensor-core sums as mma.sync (measured: all bits)
    const Result rf = run(c, d, n, false, with_bias, 0);
    CHECK(same_bits(rf.logits, r128.logits));  // in-kernel rounding == core's float_to_bf16
    CHECK(rf.ids == r128.ids);
    // the first 1000 rows alone give the same logits as inside n = 16383
    const Result small = run(c, d, 1000, true, with_bias, 0);
    CHECK(std::memcmp(small.logits.data(), r128.logits.data(), small.logits.size() * 4) == 0);
  }
}

#endif
