// The decode router (backends/cuda/src/decode_route.cu, n <= 64 in one launch) called directly:
// canonical mode bit-identical to the CPU router (logits, ids, weights, counts, non-finite counts)
// on every preset and odd shapes, random / tie-heavy / adversarial (NaN, inf) rows, n = 1, 3, 17, 64,
// under forced tilings that exercise several K slices and row blocks; fp32 and bf16 modes bit-exact
// in the epilogue on their own logits and equal to the float64 oracle outside the near-tie band;
// graph capture + replay equal to direct calls; the grid counter back to zero after every call.
//
// Compiled as plain C++ (no CUDA header): the kernel is reached through decode_route_testing.hpp.
#include "support/catch.hpp"

#if !defined(MOEROUTER_TEST_CUDA)

TEST_CASE("CUDA decode router", "[cuda]") {
  WARN("skipped: CUDA backend not built (no CUDA compiler at configure time)");
}

#else

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../backends/cuda/src/decode_route_testing.hpp"
#include "moerouter/cuda_testing.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/reference/judge.hpp"
#include "moerouter/reference/near_tie.hpp"
#include "moerouter/reference/oracle.hpp"
#include "moerouter/registry.hpp"
#include "moerouter/tensor.hpp"

using namespace moerouter;
namespace ct = moerouter::cuda_testing;
namespace ref = moerouter::reference;
namespace cd = moerouter::cuda::detail;
using ct::DeviceBuffer;

#define SKIP_WITHOUT_CUDA_DEVICE()     \
  do {                                 \
    if (!ct::device_present()) {       \
      WARN("skipped: no CUDA device"); \
      return;                          \
    }                                  \
  } while (0)

namespace {

constexpr uint8_t kPoison = 0xFF;

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

template <class T>
int64_t first_diff(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return -2;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return static_cast<int64_t>(i);
  return -1;
}

struct Options {
  GemmMode mode = GemmMode::Canonical;
  bool logits_out = true;
  bool counts_i64 = false;
  bool nonfinite = false;
  int64_t ld_extra = 0;  // x row stride = H + ld_extra (the gap holds NaN bytes)
};

struct Outputs {
  std::vector<float> weights, logits;
  std::vector<int32_t> ids;
  std::vector<int64_t> counts;
  unsigned long long nonfinite[2] = {0, 0};
  unsigned counter = 0;
  bool guards = true;
};

// One problem's device inputs and poisoned outputs, and the hook call that fills them.
class DecodeCall {
 public:
  DecodeCall(const ref::Problem& p, const Options& o) : p_(p), o_(o) {
    const RouterConfig& c = p.cfg;
    const int64_t n = p.n, E = c.experts, H = c.hidden, k = c.top_k;
    const bool xb = p.dtype == DType::BF16;
    const size_t es = xb ? 2 : 4;
    ld_ = H + o.ld_extra;
    std::vector<uint8_t> xh(static_cast<size_t>(n * ld_) * es, 0xFF);
    for (int64_t r = 0; r < n; ++r)
      std::memcpy(xh.data() + r * ld_ * es,
                  xb ? static_cast<const void*>(&p.x_bf16[r * H]) : static_cast<const void*>(&p.x[r * H]), H * es);
    x_ = DeviceBuffer::from(xh);
    w_ = DeviceBuffer::from(p.w);
    std::vector<uint16_t> wb(p.w.size());
    for (size_t i = 0; i < wb.size(); ++i) wb[i] = float_to_bf16(p.w[i]);  // as set_weights does
    wb_ = DeviceBuffer::from(wb);
    if (!p.bias.empty()) bias_ = DeviceBuffer::from(p.bias);
    if (p.hashed()) {
      tokens_ = DeviceBuffer::from(p.token_ids);
      table_ = DeviceBuffer::from(p.hash_table);
    }
    ws_ = DeviceBuffer(static_cast<size_t>(n * E) * 4);
    weights_ = DeviceBuffer(static_cast<size_t>(n * k) * 4);
    ids_ = DeviceBuffer(static_cast<size_t>(n * k) * 4);
    logits_ = DeviceBuffer(o.logits_out ? static_cast<size_t>(n * E) * 4 : 0);
    counts_ = DeviceBuffer(static_cast<size_t>(E) * 8);
    nonfinite_ = DeviceBuffer(16);
    counter_ = DeviceBuffer(4);
    counter_.fill(0);
    reset();
  }
  void reset() {  // poison every output; zero what the caller zeroes (counts, non-finite counters)
    for (DeviceBuffer* b : {&ws_, &weights_, &ids_, &logits_}) b->fill(kPoison);
    counts_.fill(0);
    nonfinite_.fill(0);
  }
  cd::DecodeTestCall call(void* stream) const {
    cd::DecodeTestCall c;
    c.mode = o_.mode;
    c.x = x_.data();
    c.x_bf16 = p_.dtype == DType::BF16;
    c.ld = ld_;
    c.n = p_.n;
    c.experts = p_.cfg.experts;
    c.hidden = p_.cfg.hidden;
    c.w_f32 = static_cast<const float*>(w_.data());
    c.w_bf16 = static_cast<const uint16_t*>(wb_.data());
    c.w_bf16_exact = p_.dtype == DType::BF16;  // a BF16 problem's W is bf16-rounded: the router's case
    c.params = epilogue::Params::from(p_.cfg, p_.bias.empty() ? nullptr : static_cast<const float*>(bias_.data()));
    c.logits_ws = static_cast<float*>(ws_.data());
    c.weights_out = static_cast<float*>(weights_.data());
    c.ids_out = static_cast<int32_t*>(ids_.data());
    c.logits_out = o_.logits_out ? static_cast<float*>(logits_.data()) : nullptr;
    c.counts = counts_.data();
    c.counts_i64 = o_.counts_i64;
    if (p_.hashed()) {
      c.token_ids = tokens_.data();
      c.hash_table = table_.data();
    }
    c.nonfinite = o_.nonfinite ? static_cast<unsigned long long*>(nonfinite_.data()) : nullptr;
    c.grid_counter = static_cast<unsigned*>(counter_.data());
    c.stream = stream;
    return c;
  }
  void run(void* stream = nullptr) const { cd::decode_route_hook(call(stream)); }
  Outputs collect(void* stream = nullptr) const {
    ct::synchronize(stream);
    Outputs out;
    out.weights = weights_.to_host<float>();
    out.ids = ids_.to_host<int32_t>();
    if (o_.logits_out) out.logits = logits_.to_host<float>();
    const int64_t E = p_.cfg.experts;
    if (o_.counts_i64) {
      out.counts = counts_.to_host<int64_t>();
    } else {
      for (int32_t v : counts_.to_host<int32_t>()) out.counts.push_back(v);
      out.counts.resize(static_cast<size_t>(E));
    }
    nonfinite_.download(out.nonfinite, 16);
    counter_.download(&out.counter, 4);
    for (const DeviceBuffer* b : {&x_, &ws_, &weights_, &ids_, &logits_, &counts_, &nonfinite_, &counter_})
      out.guards = out.guards && b->guards_intact();
    return out;
  }

 private:
  const ref::Problem& p_;
  Options o_;
  int64_t ld_ = 0;
  DeviceBuffer x_, w_, wb_, bias_, tokens_, table_, ws_, weights_, ids_, logits_, counts_, nonfinite_, counter_;
};

// The CPU router's outputs (canonical mode): what canonical decode must write bit for bit.
Outputs cpu_route(Router& cpu, const ref::Problem& p, bool counts_i64) {
  const int64_t n = p.n, E = p.cfg.experts;
  const int k = p.cfg.top_k;
  cpu.set_weights(p.w_view(), p.bias_view());
  Outputs out;
  out.weights.assign(static_cast<size_t>(n * k), 0.0f);
  out.ids.assign(static_cast<size_t>(n * k), -1);
  out.logits.assign(static_cast<size_t>(n * E), 0.0f);
  std::vector<int64_t> c64(static_cast<size_t>(E));
  std::vector<int32_t> c32(static_cast<size_t>(E));
  RouteOptions o;
  o.logits_out = TensorView::matrix(out.logits.data(), DType::F32, n, E);
  o.counts_out = counts_i64 ? TensorView::vector(c64.data(), DType::I64, E) : TensorView::vector(c32.data(), DType::I32, E);
  if (p.hashed()) {
    o.token_ids = p.token_ids_view();
    o.hash_table = p.hash_table_view();
  }
  cpu.route(p.x_view(), TensorView::matrix(out.weights.data(), DType::F32, n, k),
            TensorView::matrix(out.ids.data(), DType::I32, n, k), o);
  for (int64_t e = 0; e < E; ++e) out.counts.push_back(counts_i64 ? c64[e] : c32[e]);
  // Rows with a non-finite logit, as EpilogueArgs::nonfinite counts them.
  for (int64_t r = 0; r < n; ++r)
    for (int64_t e = 0; e < E; ++e)
      if (!std::isfinite(out.logits[r * E + e])) {
        out.nonfinite[0] += 1;
        out.nonfinite[1] = std::max(out.nonfinite[1], ~static_cast<unsigned long long>(r));
        break;
      }
  return out;
}

// The CPU epilogue on given logits (ids, weights, counts).
Outputs host_epilogue(const ref::Problem& p, const std::vector<float>& logits) {
  const RouterConfig& cfg = p.cfg;
  const int64_t E = cfg.experts, n = p.n;
  const int k = cfg.top_k;
  const epilogue::Params prm = epilogue::Params::from(cfg, p.bias.empty() ? nullptr : p.bias.data());
  Outputs out;
  out.weights.resize(static_cast<size_t>(n * k));
  out.ids.resize(static_cast<size_t>(n * k));
  out.counts.assign(static_cast<size_t>(E), 0);
  std::vector<float> act(static_cast<size_t>(E));
  std::unique_ptr<bool[]> flags(new bool[static_cast<size_t>(cfg.groups)]);
  for (int64_t i = 0; i < n; ++i) {
    epilogue::activate_row(&logits[i * E], E, cfg.score, act.data());
    int32_t* ids = &out.ids[i * k];
    if (p.hashed())
      for (int j = 0; j < k; ++j) ids[j] = p.hash_ids(i)[j];
    else
      epilogue::select_topk(act.data(), prm, flags.get(), ids);
    epilogue::gather_weights(act.data(), ids, prm, &out.weights[i * k]);
    for (int j = 0; j < k; ++j) ++out.counts[ids[j]];
  }
  return out;
}

void require_same(const Outputs& got, const Outputs& want, bool logits, bool nonfinite, const std::string& what) {
  INFO(what);
  REQUIRE(got.guards);
  REQUIRE(got.counter == 0u);
  if (logits) {
    const int64_t d = first_diff(got.logits, want.logits);
    INFO("logits: first difference at " << d
                                       << (d >= 0 ? " got " + std::to_string(bits(got.logits[d])) + " want " +
                                                        std::to_string(bits(want.logits[d]))
                                                  : std::string()));
    REQUIRE(d == -1);
  }
  const int64_t di = first_diff(got.ids, want.ids);
  INFO("ids: first difference at " << di);
  REQUIRE(di == -1);
  const int64_t dw = first_diff(got.weights, want.weights);
  INFO("weights: first difference at " << dw);
  REQUIRE(dw == -1);
  REQUIRE(first_diff(got.counts, want.counts) == -1);
  if (nonfinite) {
    REQUIRE(got.nonfinite[0] == want.nonfinite[0]);
    REQUIRE(got.nonfinite[1] == want.nonfinite[1]);
  }
}

RouterConfig make_cfg(int64_t H, int64_t E, int k, ScoreFn s, int G = 1, int TG = 1, bool renorm = true) {
  RouterConfig c;
  c.hidden = H;
  c.experts = E;
  c.top_k = k;
  c.score = s;
  c.groups = G;
  c.topk_groups = TG;
  c.renormalize = renorm;
  c.scale = 1.75f;
  return c;
}

struct TilingScope {  // forces a tiling for one scope
  explicit TilingScope(cd::DecodeTiling t) { cd::set_decode_tiling(t); }
  ~TilingScope() { cd::set_decode_tiling(cd::DecodeTiling{}); }
};

// Canonical decode against the CPU router on one problem, with several output options.
void check_canonical(Router& cpu, const ref::Problem& p, uint64_t salt, const std::string& label) {
  Options o;
  o.counts_i64 = salt & 1;
  o.nonfinite = (salt & 2) != 0;
  o.logits_out = (salt % 5) != 4;  // sometimes without logits_out (tail runs warp_route_row when counting)
  o.ld_extra = (salt % 7 == 3) ? 3 : (salt % 7 == 5) ? 4 : 0;  // unaligned (scalar staging) and aligned strides
  const Outputs want = cpu_route(cpu, p, o.counts_i64);
  DecodeCall call(p, o);
  call.run();
  const Outputs got = call.collect();
  require_same(got, want, o.logits_out, o.nonfinite,
               label + " n=" + std::to_string(p.n) + " x=" + to_string(p.dtype) + " " + ref::to_string(p.kind) +
                   (p.hashed() ? " hashed" : "") + (o.logits_out ? "" : " no-logits_out") +
                   (o.nonfinite ? " count-nonfinite" : "") + " ld+" + std::to_string(o.ld_extra) + " (" +
                   cd::decode_plan_string(GemmMode::Canonical, p.n, p.cfg.experts, p.cfg.hidden) + ")");
}

}  // namespace

TEST_CASE("decode router, canonical: bit-identical to the CPU on every preset, n = 1, 3, 17, 64",
          "[cuda][decode]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  uint64_t seed = 4000;
  for (const std::string& name : preset_names()) {
    const RouterConfig cfg = preset(name);
    auto cpu = make_router(cfg, Device::Cpu);
    int64_t rows = 0;
    for (ref::InputKind kind : {ref::InputKind::Random, ref::InputKind::TieHeavy, ref::InputKind::Adversarial,
                                ref::InputKind::IntegerValued})
      for (int64_t n : {1, 3, 17, 64})
        for (DType dtype : {DType::F32, DType::BF16}) {
          ++seed;
          ref::Problem p = ref::generate(cfg, n, kind, seed, dtype, seed % 4 != 0);
          if (seed % 6 == 1) ref::add_hash_routing(p, 97, seed);
          check_canonical(*cpu, p, seed, name);
          rows += n;
        }
    std::printf("decode canonical %-13s %5lld rows bit-identical to the CPU\n", name.c_str(),
                static_cast<long long>(rows));
  }
}

TEST_CASE("decode router, canonical: odd shapes, every score function, forced tilings (several K "
          "slices, row blocks, 1-expert blocks)",
          "[cuda][decode]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const std::vector<RouterConfig> configs = {
      make_cfg(1, 1, 1, ScoreFn::Sigmoid),
      make_cfg(33, 8, 8, ScoreFn::Softmax),             // k = E, H < one chunk
      make_cfg(200, 72, 5, ScoreFn::SqrtSoftplus),      // short last chunk
      make_cfg(1000, 96, 7, ScoreFn::Sigmoid, 12, 3),   // groups
      make_cfg(65, 1024, 32, ScoreFn::Softmax),         // E and k at their limits
      make_cfg(127, 32, 32, ScoreFn::Sigmoid, 1, 1, false),  // H % 4 != 0: scalar staging
      make_cfg(4097, 256, 8, ScoreFn::SqrtSoftplus, 8, 4),
      make_cfg(2050, 4, 1, ScoreFn::Softmax, 4, 1),
      make_cfg(7168, 384, 6, ScoreFn::Sigmoid),
      make_cfg(7168, 1024, 8, ScoreFn::SqrtSoftplus),
  };
  const std::vector<cd::DecodeTiling> tilings = {
      {}, {1, 1, 0}, {3, 5, 0}, {16, 7, 0}, {0, 0, 8 * 1024}, {16, 16, 24 * 1024}, {2, 3, 12 * 1024}};
  uint64_t seed = 9000;
  for (const RouterConfig& cfg : configs) {
    auto cpu = make_router(cfg, Device::Cpu);
    for (size_t t = 0; t < tilings.size(); ++t) {
      TilingScope scope(tilings[t]);
      for (int64_t n : {1, 3, 17, 64}) {
        ++seed;
        const ref::InputKind kind = static_cast<ref::InputKind>(seed % 4);
        const DType dtype = (seed % 3 == 0) ? DType::BF16 : DType::F32;
        if (kind == ref::InputKind::IntegerValued && 9 * cfg.hidden >= (1 << 24)) continue;
        ref::Problem p = ref::generate(cfg, n, kind, seed, dtype, seed % 3 != 1);
        if (seed % 5 == 0) ref::add_hash_routing(p, 50, seed);
        check_canonical(*cpu, p, seed, describe(cfg) + " tiling " + std::to_string(t));
      }
    }
  }
}

TEST_CASE("decode router, fp32 and bf16: epilogue bit-exact on own logits, ids equal the float64 "
          "oracle outside the near-tie band",
          "[cuda][decode]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  uint64_t seed = 7000;
  for (const std::string& name : preset_names()) {
    const RouterConfig cfg = preset(name);
    for (GemmMode mode : {GemmMode::Fp32, GemmMode::Bf16})
      for (DType dtype : {DType::F32, DType::BF16})
        for (ref::InputKind kind : {ref::InputKind::Random, ref::InputKind::TieHeavy, ref::InputKind::Adversarial})
          for (int64_t n : {1, 17, 64}) {
            ++seed;
            ref::Problem p = ref::generate(cfg, n, kind, seed, dtype);
            if (seed % 4 == 0) ref::add_hash_routing(p, 97, seed);
            Options o;
            o.mode = mode;
            o.counts_i64 = seed & 1;
            DecodeCall call(p, o);
            call.run();
            const Outputs got = call.collect();
            const std::string label = name + " " + to_string(mode) + " x=" + to_string(dtype) + " " +
                                      ref::to_string(kind) + " n=" + std::to_string(n);
            // (1) the epilogue on the kernel's own logits
            const Outputs want = host_epilogue(p, got.logits);
            require_same(got, want, false, false, label + ": epilogue on own logits");
            // (2) ids against the oracle where it saw the values multiplied (bf16 mode: bf16 x)
            if (mode == GemmMode::Bf16 && dtype != DType::BF16) continue;
            if (kind == ref::InputKind::Adversarial) continue;  // saturating rows: judged in test_cuda
            const int k = cfg.top_k;
            int64_t outside = 0, inside_diff = 0;
            for (int64_t i = 0; i < p.n; ++i) {
              const ref::OracleRow o64 = ref::route_row(p, i);
              if (!o64.finite) continue;
              const bool same = std::equal(o64.ids.begin(), o64.ids.end(), &got.ids[i * k]);
              const double gap = std::min(ref::expert_boundary_gap(o64), ref::group_boundary_gap(o64));
              double mag = 0;
              for (double s : o64.sel) mag = std::max(mag, std::fabs(s));
              if (gap > ref::practical_band(mag)) {
                ++outside;
                INFO(label << " row " << i << " gap " << gap);
                REQUIRE(same);
              } else {
                inside_diff += !same;
              }
            }
            if (n == 64 && kind == ref::InputKind::Random)
              std::printf("decode %-13s %-4s x=%-4s n=64: %lld rows outside the band (all exact), %lld "
                          "inside differ\n", name.c_str(), to_string(mode), to_string(dtype),
                          static_cast<long long>(outside), static_cast<long long>(inside_diff));
          }
  }
}

// Small shapes for compute-sanitizer (memcheck, racecheck, synccheck, initcheck run the [sanitize]
// subset): every staging path (cp.async f32, raw bf16 cp.async, register batches, scalar), the bias
// prefetch, the tail's register, group-register and list paths, several slices and row blocks.
TEST_CASE("decode router: sanitizer subset, every mode on small shapes", "[cuda][decode][sanitize]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const std::vector<RouterConfig> configs = {
      make_cfg(200, 72, 5, ScoreFn::SqrtSoftplus),     // short last chunk
      make_cfg(256, 64, 4, ScoreFn::Sigmoid, 2, 1),    // groups of 32: group register path
      make_cfg(136, 48, 6, ScoreFn::Sigmoid, 12, 3),   // other groups: list path; H % 8 == 0
      make_cfg(130, 40, 3, ScoreFn::Softmax),          // H % 4 != 0: scalar staging
  };
  uint64_t seed = 12000;
  for (const RouterConfig& cfg : configs) {
    auto cpu = make_router(cfg, Device::Cpu);
    for (const cd::DecodeTiling& tiling : {cd::DecodeTiling{}, cd::DecodeTiling{2, 5, 4 * 1024}}) {
      TilingScope scope(tiling);
      for (int64_t n : {1, 5}) {
        ++seed;
        ref::Problem p = ref::generate(cfg, n, ref::InputKind::Random, seed, seed % 2 ? DType::BF16 : DType::F32,
                                       seed % 3 != 0);
        check_canonical(*cpu, p, seed, "sanitize " + describe(cfg));
        for (GemmMode mode : {GemmMode::Fp32, GemmMode::Bf16}) {
          Options o;
          o.mode = mode;
          DecodeCall call(p, o);
          call.run();
          const Outputs got = call.collect();
          const Outputs want = host_epilogue(p, got.logits);
          require_same(got, want, false, false,
                       "sanitize " + describe(cfg) + " " + to_string(mode) + " n=" + std::to_string(n));
        }
      }
    }
  }
}

TEST_CASE("decode router: graph capture and replay equal direct calls, the grid counter stays zero",
          "[cuda][decode][graph]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const RouterConfig cfg = preset("dsv4-pro");
  for (GemmMode mode : {GemmMode::Canonical, GemmMode::Bf16})
    for (int64_t n : {1, 17, 64}) {
      ref::Problem p1 = ref::generate(cfg, n, ref::InputKind::Random, 11 + n, DType::F32);
      Options o;
      o.mode = mode;
      DecodeCall call(p1, o);
      call.run();
      const Outputs direct = call.collect();
      REQUIRE(direct.counter == 0u);
      call.reset();
      void* stream = ct::create_stream();
      {
        ct::Graph g;
        g.begin_capture(stream);
        for (int i = 0; i < 3; ++i) call.run(stream);  // three calls in one graph: counts add up
        g.end_capture();
        for (int replay = 0; replay < 4; ++replay) {
          call.reset();
          g.launch(stream);
          Outputs got = call.collect(stream);
          INFO(to_string(mode) << " n=" << n << " replay " << replay);
          for (int64_t& c : got.counts) {
            REQUIRE(c % 3 == 0);
            c /= 3;
          }
          require_same(got, direct, true, false, "graph replay");
        }
      }
      ct::destroy_stream(stream);
    }
}

// Where a decode call's time goes: every block's %globaltimer stamps (decode_route_testing.hpp),
// printed as the spread over blocks of each phase relative to the earliest start. A diagnostic
// for tuning (hidden), not a timing claim: the benchmark is `moerouter bench`.
TEST_CASE("decode router: per-phase time breakdown (diagnostic)", "[.][cuda][decode-trace]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (const char* name : {"dsv4-pro", "dsv4-flash"})
    for (GemmMode mode : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16})
      for (int64_t n : {1, 4, 16, 64}) {
        if (mode != GemmMode::Canonical && n > 4) continue;
        const RouterConfig cfg = preset(name);
        ref::Problem p = ref::generate(cfg, n, ref::InputKind::Random, 5, DType::BF16);
        Options o;
        o.mode = mode;
        o.logits_out = false;
        DecodeCall call(p, o);
        int gx = 0, gy = 0;
        cd::decode_grid(n, cfg.experts, cfg.hidden, &gx, &gy);
        const size_t blocks = static_cast<size_t>(gx) * gy;
        constexpr int kSlots = cd::kDecodeTraceSlots;
        DeviceBuffer trace(blocks * kSlots * sizeof(unsigned long long));
        for (int i = 0; i < 5; ++i) call.run();  // warm-up
        ct::device_synchronize();
        // Nine traced launches; per phase the min / median / max over blocks of each, then the
        // median launch of each of those three (one launch alone is noisy at this scale).
        constexpr int kLaunches = 9;
        std::vector<std::vector<double>> stats(kSlots * 3);
        for (int launch = 0; launch < kLaunches; ++launch) {
          trace.fill(0);
          cd::set_decode_trace(static_cast<unsigned long long*>(trace.data()));
          call.run();
          ct::device_synchronize();
          cd::set_decode_trace(nullptr);
          const std::vector<unsigned long long> t = trace.to_host<unsigned long long>();
          unsigned long long t0 = ~0ull;
          for (size_t b = 0; b < blocks; ++b)
            if (t[b * kSlots]) t0 = std::min(t0, t[b * kSlots]);
          REQUIRE(t0 != ~0ull);
          for (int ph = 0; ph < kSlots; ++ph) {
            std::vector<double> v;
            for (size_t b = 0; b < blocks; ++b)
              if (t[b * kSlots + ph]) v.push_back(static_cast<double>(t[b * kSlots + ph] - t0) * 1e-3);
            if (v.empty()) continue;
            std::sort(v.begin(), v.end());
            stats[ph * 3].push_back(v.front());
            stats[ph * 3 + 1].push_back(v[v.size() / 2]);
            stats[ph * 3 + 2].push_back(v.back());
          }
        }
        std::printf("decode %s %s n=%lld: %s\n  phase (us after the first start): min / median / max over %zu "
                    "blocks, median of %d launches\n",
                    name, to_string(mode), static_cast<long long>(n),
                    cd::decode_plan_string(mode, n, cfg.experts, cfg.hidden).c_str(), blocks, kLaunches);
        // In time order: 0 start, 1 first slice staged, 2 its chains, 3 GEMM done, 4 outputs
        // stored, 5 counter; then in the tail block: 8 tail entered, 7 row loads about to issue,
        // 9 row loaded, 6 end.
        for (int ph : {0, 1, 2, 3, 4, 5, 8, 7, 9, 6}) {
          double m[3] = {0.0, 0.0, 0.0};
          for (int q = 0; q < 3; ++q) {
            std::vector<double>& v = stats[ph * 3 + q];
            if (v.empty()) break;
            std::sort(v.begin(), v.end());
            m[q] = v[v.size() / 2];
          }
          if (stats[ph * 3].empty()) continue;
          std::printf("  %d: %8.2f %8.2f %8.2f  (%zu launches)\n", ph, m[0], m[1], m[2], stats[ph * 3].size());
        }
      }
}

#endif  // MOEROUTER_TEST_CUDA
