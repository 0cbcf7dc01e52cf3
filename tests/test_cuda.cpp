// The CUDA backend against the CPU golden reference (DESIGN.md §2): canonical mode bit-identical to
// the CPU (logits, weights, ids, counts) on every preset and score function over random, integer,
// tie-heavy and adversarial inputs; batch invariance across both canonical kernels; fp32/bf16 modes
// bit-exact in the epilogue on their own logits and equal to the float64 oracle outside the near-tie
// band; poisoned outputs and guard zones; hash routing; validate; CUDA graphs; threads x streams.
//
// Compiled as plain C++: device memory goes through moerouter_cuda_testing (no CUDA header here).
// Without a device every test prints "skipped: no CUDA device" and returns.
#include "support/catch.hpp"

#if !defined(MOEROUTER_TEST_CUDA)

TEST_CASE("CUDA backend", "[cuda]") {
  WARN("skipped: CUDA backend not built (no CUDA compiler at configure time)");
}

#else

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "moerouter/cuda.hpp"
#include "moerouter/cuda_testing.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/error.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/reference/judge.hpp"
#include "moerouter/reference/near_tie.hpp"
#include "moerouter/reference/oracle.hpp"
#include "moerouter/registry.hpp"
#include "support/test_data.hpp"

using namespace moerouter;
namespace ct = moerouter::cuda_testing;
namespace ref = moerouter::reference;
using ct::DeviceBuffer;

#define SKIP_WITHOUT_CUDA_DEVICE()     \
  do {                                 \
    if (!ct::device_present()) {       \
      WARN("skipped: no CUDA device"); \
      return;                          \
    }                                  \
  } while (0)

namespace {

// 0xFF bytes: as a float a NaN no backend writes (every NaN written is 0x7FC00000), as an id -1.
constexpr uint8_t kPoisonByte = 0xFF;
constexpr uint32_t kPoisonBits = 0xFFFFFFFFu;

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Index of the first element whose bytes differ; -1 when equal; -2 when the sizes differ.
template <class T>
int64_t first_diff(const T* a, const T* b, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return static_cast<int64_t>(i);
  return -1;
}
template <class T>
int64_t first_diff(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return -2;
  return first_diff(a.data(), b.data(), a.size());
}

template <class T>
std::string show_diff(const std::vector<T>& got, const std::vector<T>& want, int64_t at, int64_t width) {
  if (at < 0) return "none";
  std::ostringstream os;
  os << "element " << at << " (row " << at / width << ", col " << at % width << "): got ";
  if constexpr (std::is_same_v<T, float>)
    os << got[at] << " (0x" << std::hex << bits_of(got[at]) << ") want " << std::dec << want[at]
       << " (0x" << std::hex << bits_of(want[at]) << ")";
  else
    os << got[at] << " want " << want[at];
  return os.str();
}

template <class T>
std::vector<T> head(const std::vector<T>& v, size_t count) {
  return std::vector<T>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(count, v.size())));
}
template <class T>
std::vector<T> slice(const std::vector<T>& v, size_t begin, size_t count) {
  return std::vector<T>(v.begin() + static_cast<std::ptrdiff_t>(begin),
                        v.begin() + static_cast<std::ptrdiff_t>(begin + count));
}

// ---- one route() request, the same on both backends ----------------------------------------------

struct Call {
  std::optional<GemmMode> gemm;
  bool logits = true;
  std::optional<DType> counts;  // I32 or I64
  bool validate = false;
  bool sync_stats = false;
  void* stream = nullptr;
  // Hash routing when non-empty: token ids [n] and table [vocab, k], handed over as these dtypes.
  std::vector<int64_t> tokens, table;
  DType token_dtype = DType::I32, table_dtype = DType::I32;
  int64_t vocab = 0;
  bool hashed() const { return !tokens.empty(); }
};

void set_hash(Call& c, const ref::Problem& p, int64_t rows) {
  if (!p.hashed()) return;
  c.tokens.assign(p.token_ids.begin(), p.token_ids.begin() + rows);
  c.table.assign(p.hash_table.begin(), p.hash_table.end());
  c.vocab = p.vocab;
}

// Bytes of an index vector in the requested dtype.
std::vector<char> index_bytes(const std::vector<int64_t>& v, DType d) {
  std::vector<char> out(v.size() * dtype_size(d));
  for (size_t i = 0; i < v.size(); ++i) {
    if (d == DType::I32) {
      const int32_t x = static_cast<int32_t>(v[i]);
      std::memcpy(out.data() + 4 * i, &x, 4);
    } else {
      std::memcpy(out.data() + 8 * i, &v[i], 8);
    }
  }
  return out;
}

struct Result {
  std::vector<float> weights, logits;
  std::vector<int32_t> ids;
  std::vector<int64_t> counts;
  RouteStats stats;
  bool guards_ok = true;
  int64_t unwritten = 0;  // poison left in weights/logits, or ids outside [0, E)
};

void count_unwritten(Result& r, int64_t experts) {
  r.unwritten = 0;
  for (float w : r.weights) r.unwritten += bits_of(w) == kPoisonBits;
  for (float l : r.logits) r.unwritten += bits_of(l) == kPoisonBits;
  for (int32_t id : r.ids) r.unwritten += id < 0 || id >= experts;
}

Result host_route(Router& r, const TensorView& x, const Call& c) {
  const RouterConfig& cfg = r.config();
  const int64_t n = x.shape[0], E = cfg.experts;
  const int k = cfg.top_k;
  Result out;
  out.weights.resize(static_cast<size_t>(n * k));
  out.ids.resize(static_cast<size_t>(n * k));
  std::memset(out.weights.data(), kPoisonByte, out.weights.size() * 4);
  std::memset(out.ids.data(), kPoisonByte, out.ids.size() * 4);
  RouteOptions o;
  o.gemm = c.gemm;
  o.validate = c.validate;
  o.sync_stats = c.sync_stats;
  if (c.logits) {
    out.logits.resize(static_cast<size_t>(n * E));
    std::memset(out.logits.data(), kPoisonByte, out.logits.size() * 4);
    o.logits_out = TensorView::matrix(out.logits.data(), DType::F32, n, E);
  }
  std::vector<char> counts(static_cast<size_t>(E) * 8, static_cast<char>(kPoisonByte));
  if (c.counts) o.counts_out = TensorView::vector(counts.data(), *c.counts, E);
  std::vector<char> tokens, table;
  if (c.hashed()) {
    tokens = index_bytes(c.tokens, c.token_dtype);
    table = index_bytes(c.table, c.table_dtype);
    o.token_ids = TensorView::vector(tokens.data(), c.token_dtype, n);
    o.hash_table = TensorView::matrix(table.data(), c.table_dtype, c.vocab, k);
  }
  out.stats = r.route(x, TensorView::matrix(out.weights.data(), DType::F32, n, k),
                      TensorView::matrix(out.ids.data(), DType::I32, n, k), o);
  if (c.counts)
    for (int64_t e = 0; e < E; ++e) {
      int64_t v = 0;
      if (*c.counts == DType::I32) {
        int32_t v32;
        std::memcpy(&v32, counts.data() + 4 * e, 4);
        v = v32;
      } else {
        std::memcpy(&v, counts.data() + 8 * e, 8);
      }
      out.counts.push_back(v);
    }
  count_unwritten(out, E);
  return out;
}

// Device buffers of one call: outputs poisoned (0xFF) inside guard zones, hash inputs uploaded.
class DeviceCall {
 public:
  DeviceCall(Router& r, const TensorView& x, const Call& c) : r_(r), x_(x), c_(c) {
    const RouterConfig& cfg = r.config();
    n_ = x.shape[0];
    E_ = cfg.experts;
    k_ = cfg.top_k;
    weights_ = DeviceBuffer(static_cast<size_t>(n_ * k_) * 4);
    ids_ = DeviceBuffer(static_cast<size_t>(n_ * k_) * 4);
    logits_ = DeviceBuffer(c.logits ? static_cast<size_t>(n_ * E_) * 4 : 0);
    counts_ = DeviceBuffer(static_cast<size_t>(E_) * 8);
    poison();
    if (c.hashed()) {
      tokens_ = DeviceBuffer::from(index_bytes(c.tokens, c.token_dtype));
      table_ = DeviceBuffer::from(index_bytes(c.table, c.table_dtype));
    }
  }
  void poison() {
    for (DeviceBuffer* b : {&weights_, &ids_, &logits_, &counts_}) b->fill(kPoisonByte);
  }
  RouteOptions options() const {
    RouteOptions o;
    o.gemm = c_.gemm;
    o.validate = c_.validate;
    o.sync_stats = c_.sync_stats;
    o.stream = c_.stream;
    if (c_.logits) o.logits_out = dev(logits_, DType::F32, n_, E_);
    if (c_.counts) o.counts_out = TensorView::vector(counts_.data(), *c_.counts, E_, DeviceType::Cuda);
    if (c_.hashed()) {
      o.token_ids = TensorView::vector(tokens_.data(), c_.token_dtype, n_, DeviceType::Cuda);
      o.hash_table = dev(table_, c_.table_dtype, c_.vocab, k_);
    }
    return o;
  }
  RouteStats run() {
    return r_.route(x_, dev(weights_, DType::F32, n_, k_), dev(ids_, DType::I32, n_, k_), options());
  }
  Result collect() const {
    ct::synchronize(c_.stream);
    Result out;
    out.weights = weights_.to_host<float>();
    out.ids = ids_.to_host<int32_t>();
    if (c_.logits) out.logits = logits_.to_host<float>();
    if (c_.counts) {
      if (*c_.counts == DType::I32) {
        for (int32_t v : counts_.to_host<int32_t>()) out.counts.push_back(v);
        out.counts.resize(static_cast<size_t>(E_));
      } else {
        out.counts = counts_.to_host<int64_t>();
      }
    }
    out.guards_ok = weights_.guards_intact() && ids_.guards_intact() && logits_.guards_intact() &&
                    counts_.guards_intact();
    count_unwritten(out, E_);
    return out;
  }
  // Whether every output byte still holds the poison (nothing was written).
  bool untouched() const {
    for (const DeviceBuffer* b : {&weights_, &ids_, &logits_, &counts_})
      for (uint8_t v : b->to_host<uint8_t>())
        if (v != kPoisonByte) return false;
    return true;
  }
  static TensorView dev(const DeviceBuffer& b, DType d, int64_t rows, int64_t cols) {
    return TensorView::matrix(b.data(), d, rows, cols, DeviceType::Cuda, 0);
  }

 private:
  Router& r_;
  TensorView x_;
  Call c_;
  int64_t n_ = 0, E_ = 0;
  int k_ = 0;
  DeviceBuffer weights_, ids_, logits_, counts_, tokens_, table_;
};

Result device_route(Router& r, const TensorView& x, const Call& c) {
  DeviceCall call(r, x, c);
  Result out;
  const RouteStats stats = call.run();
  out = call.collect();
  out.stats = stats;
  return out;
}

// x on the device, in its own dtype, with row stride ld (>= H; the gap is filled with 0xFF bytes,
// a NaN pattern that would show up if a kernel read it).
struct DeviceX {
  DeviceBuffer buf;
  TensorView view;
};

DeviceX upload_x(const TensorView& host, int64_t ld = -1) {
  const int64_t n = host.shape[0], H = host.shape[1];
  const size_t es = dtype_size(host.dtype);
  if (ld < 0) ld = H;
  DeviceX d;
  d.buf = DeviceBuffer(static_cast<size_t>(std::max<int64_t>(n, 1) * ld) * es);
  if (ld == H) {
    d.buf.upload(host.data, static_cast<size_t>(n * H) * es);
  } else {
    std::vector<char> padded(static_cast<size_t>(n * ld) * es, static_cast<char>(0xFF));
    for (int64_t r = 0; r < n; ++r)
      std::memcpy(padded.data() + r * ld * es, static_cast<const char*>(host.data) + r * H * es, H * es);
    d.buf.upload(padded.data(), padded.size());
  }
  d.view = TensorView::matrix(d.buf.data(), host.dtype, n, H, DeviceType::Cuda, 0);
  d.view.strides[0] = ld;
  return d;
}

// Rows [r0, r0 + rows) of a device x view.
TensorView rows_of(const TensorView& x, int64_t r0, int64_t rows) {
  TensorView v = x;
  v.data = static_cast<char*>(x.data) + r0 * x.strides[0] * static_cast<int64_t>(dtype_size(x.dtype));
  v.shape[0] = rows;
  return v;
}

Result result_rows(const Result& r, int64_t r0, int64_t rows, int64_t E, int k) {
  Result out;
  out.weights = slice(r.weights, r0 * k, rows * k);
  out.ids = slice(r.ids, r0 * k, rows * k);
  if (!r.logits.empty()) out.logits = slice(r.logits, r0 * E, rows * E);
  return out;
}

// got (GPU) must equal want bit for bit in everything want has.
void require_same_bits(const Result& got, const Result& want, int64_t E, int k, const std::string& what) {
  INFO(what);
  REQUIRE(got.guards_ok);
  REQUIRE(got.unwritten == 0);
  if (!want.logits.empty()) {
    const int64_t d = first_diff(got.logits, want.logits);
    INFO("logits: first difference " << show_diff(got.logits, want.logits, d, E));
    REQUIRE(d == -1);
  }
  const int64_t di = first_diff(got.ids, want.ids);
  INFO("ids: first difference " << show_diff(got.ids, want.ids, di, k));
  REQUIRE(di == -1);
  const int64_t dw = first_diff(got.weights, want.weights);
  INFO("weights: first difference " << show_diff(got.weights, want.weights, dw, k));
  REQUIRE(dw == -1);
  if (!want.counts.empty()) {
    const int64_t dc = first_diff(got.counts, want.counts);
    INFO("counts: first difference " << show_diff(got.counts, want.counts, dc, E));
    REQUIRE(dc == -1);
  }
}

template <class F>
std::string error_of(F&& f, ErrorCode* code) {
  try {
    f();
  } catch (const Error& e) {
    *code = e.code();
    return e.what();
  }
  return "";
}

#define REQUIRE_ERROR(expr, expected_code)                      \
  do {                                                          \
    ErrorCode code_ = ErrorCode::Internal;                      \
    const std::string msg_ = error_of([&] { expr; }, &code_);   \
    INFO("error: " << (msg_.empty() ? "(none thrown)" : msg_)); \
    REQUIRE(!msg_.empty());                                     \
    REQUIRE(code_ == (expected_code));                          \
  } while (0)

// The CPU epilogue (the shared core functions) run on given logits: what any backend must write.
Result host_epilogue(const RouterConfig& cfg, const float* bias, const std::vector<float>& logits,
                     const Call& c) {
  const int64_t E = cfg.experts, n = static_cast<int64_t>(logits.size()) / E;
  const int k = cfg.top_k;
  const epilogue::Params p = epilogue::Params::from(cfg, bias);
  Result out;
  out.weights.resize(static_cast<size_t>(n * k));
  out.ids.resize(static_cast<size_t>(n * k));
  std::vector<float> act(static_cast<size_t>(E));
  std::unique_ptr<bool[]> flags(new bool[static_cast<size_t>(cfg.groups)]);
  for (int64_t i = 0; i < n; ++i) {
    epilogue::activate_row(&logits[i * E], E, cfg.score, act.data());
    int32_t* ids = &out.ids[i * k];
    if (c.hashed())
      for (int j = 0; j < k; ++j) ids[j] = static_cast<int32_t>(c.table[c.tokens[i] * k + j]);
    else
      epilogue::select_topk(act.data(), p, flags.get(), ids);
    epilogue::gather_weights(act.data(), ids, p, &out.weights[i * k]);
  }
  return out;
}

std::vector<int64_t> histogram(const std::vector<int32_t>& ids, int64_t E) {
  std::vector<int64_t> h(static_cast<size_t>(E), 0);
  for (int32_t id : ids)
    if (id >= 0 && id < E) ++h[id];
  return h;
}

// Problems generated in parallel (the reference generator is scalar): part i uses seed + i; every
// fourth part has no bias and every eighth (from part 1) uses hash routing.
std::vector<ref::Problem> generate_parts(const RouterConfig& cfg, int64_t rows, int parts,
                                         ref::InputKind kind, DType dtype, uint64_t seed) {
  std::vector<ref::Problem> v(static_cast<size_t>(parts));
  std::vector<std::string> errors(static_cast<size_t>(parts));
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < parts; ++i) {
    try {
      v[i] = ref::generate(cfg, rows, kind, seed + 1000003ull * i, dtype, i % 4 != 3);
      if (i % 8 == 1) ref::add_hash_routing(v[i], 1009, seed + 17 + i);
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  }
  for (const auto& e : errors) {
    INFO(e);
    REQUIRE(e.empty());
  }
  return v;
}

// Routes one problem on both backends (CPU: canonical, its best ISA; GPU: canonical, kernel by N)
// and requires identical bits; then the first few rows alone on the GPU (the small-N kernel on the
// same data) against the CPU's rows. Returns the rows compared.
int64_t compare_problem(Router& cpu, Router& gpu, const ref::Problem& p, const std::string& label) {
  const RouterConfig& cfg = p.cfg;
  cpu.set_weights(p.w_view(), p.bias_view());
  gpu.set_weights(p.w_view(), p.bias_view());
  Call c;
  c.counts = (p.seed & 1) ? DType::I64 : DType::I32;
  set_hash(c, p, p.n);
  const Result want = host_route(cpu, p.x_view(), c);
  const DeviceX dx = upload_x(p.x_view());
  const Result got = device_route(gpu, dx.view, c);
  require_same_bits(got, want, cfg.experts, cfg.top_k,
                    label + " n=" + std::to_string(p.n) + " (" + got.stats.kernel + ")");
  const int64_t m = std::min<int64_t>(p.n, 37);
  if (m < p.n) {
    Call cs;
    set_hash(cs, p, m);
    const Result small = device_route(gpu, rows_of(dx.view, 0, m), cs);
    require_same_bits(small, result_rows(want, 0, m, cfg.experts, cfg.top_k), cfg.experts, cfg.top_k,
                      label + " first " + std::to_string(m) + " rows alone (" + small.stats.kernel + ")");
  }
  return p.n;
}

const char* kind_name(ref::InputKind k) { return ref::to_string(k); }

struct KernelOverride {  // forces the canonical kernel for one scope
  explicit KernelOverride(const char* which) { ct::force_canonical_kernel(which); }
  ~KernelOverride() { ct::force_canonical_kernel("auto"); }
};

struct EpilogueOverride {  // forces the epilogue version for one scope
  explicit EpilogueOverride(const char* which) { ct::force_epilogue_kernel(which); }
  ~EpilogueOverride() { ct::force_epilogue_kernel("auto"); }
};

struct ScreenOverride {  // turns the activation screen on or off for one scope, then restores it
  explicit ScreenOverride(bool on) : before_(ct::activation_screen_on()) { ct::force_activation_screen(on); }
  ~ScreenOverride() { ct::force_activation_screen(before_); }
  bool before_;
};

struct GroupRegistersOverride {  // likewise the register path for groups of 32 experts
  explicit GroupRegistersOverride(bool on) : before_(ct::group_registers_on()) { ct::force_group_registers(on); }
  ~GroupRegistersOverride() { ct::force_group_registers(before_); }
  bool before_;
};

// Fast parallel x for the large batch tests: uniform [-2, 2) rows, every 29th row of a special
// class (NaN, +-inf, subnormal, saturating 1e30 scale, +-0, one 1e30 entry, all equal).
std::vector<float> fast_x(int64_t n, int64_t H, uint64_t seed) {
  std::vector<float> x(static_cast<size_t>(n * H));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    testing::Rng rng(seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(r + 1)));
    float* row = x.data() + r * H;
    for (int64_t k = 0; k < H; ++k) row[k] = rng.uniform(-2.0f, 2.0f);
    const int64_t at = static_cast<int64_t>(rng.next() % static_cast<uint64_t>(H));
    switch (r % 29) {
      case 3: row[at] = std::numeric_limits<float>::quiet_NaN(); break;
      case 5: row[at] = std::numeric_limits<float>::infinity(); break;
      case 7: row[at] = -std::numeric_limits<float>::infinity(); break;
      case 11: for (int64_t k = 0; k < H; ++k) row[k] *= 1e-39f; break;
      case 13: for (int64_t k = 0; k < H; ++k) row[k] *= 1e30f; break;
      case 17: for (int64_t k = 0; k < H; ++k) row[k] = (k % 2) ? -0.0f : 0.0f; break;
      case 19: row[at] = 1e30f; break;
      case 23: for (int64_t k = 0; k < H; ++k) row[k] = 0.5f; break;
      default: break;
    }
  }
  return x;
}

std::vector<ref::OracleRow> oracle_rows(const ref::Problem& p) {
  std::vector<ref::OracleRow> v(static_cast<size_t>(p.n));
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t i = 0; i < p.n; ++i) v[i] = ref::route_row(p, i);
  return v;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

RouterConfig small_config(ScoreFn score, int groups = 1, int topk_groups = 1) {
  RouterConfig c;
  c.hidden = 200;  // a short last chunk (200 = 3 * 64 + 8)
  c.experts = 72;
  c.top_k = 5;
  c.score = score;
  c.groups = groups;
  c.topk_groups = topk_groups;
  c.scale = 1.25f;
  return c;
}

}  // namespace

// ---- availability ---------------------------------------------------------------------------------

TEST_CASE("the CUDA backend is registered and reports whether a device is present", "[cuda]") {
  const RouterConfig cfg = preset("mixtral");
  REQUIRE(cuda::backend().available() == cuda::device_present());
  REQUIRE(device_available(Device::Cuda) == cuda::device_present());
  if (!ct::device_present()) {
    ErrorCode code = ErrorCode::Internal;
    error_of([&] { make_router(cfg, Device::Cuda); }, &code);
    REQUIRE(code == ErrorCode::BackendUnavailable);
    REQUIRE(make_router(cfg)->device() == DeviceType::Cpu);  // Auto falls back to the CPU
    WARN("skipped: no CUDA device (checked only: make_router(cuda) -> BackendUnavailable)");
    return;
  }
  std::printf("CUDA device: %s\n", ct::device_name().c_str());
  auto r = make_router(cfg, Device::Cuda);
  REQUIRE(r->device() == DeviceType::Cuda);
  REQUIRE(std::string(r->backend_name()) == "cuda");
  for (GemmMode m : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16}) REQUIRE(r->supports(m));
  REQUIRE(dynamic_cast<cuda::CudaRouter*>(r.get()) != nullptr);
}

TEST_CASE("Device::Auto routes each call where its tensors live, mixed placement is rejected", "[cuda]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const RouterConfig cfg = preset("dsv4-flash");
  const ref::Problem p = ref::generate(cfg, 33, ref::InputKind::Random, 61, DType::BF16);
  auto autor = make_router(cfg);  // Auto with a GPU present
  REQUIRE(autor->device() == DeviceType::Cuda);
  for (GemmMode m : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16}) REQUIRE(autor->supports(m));
  autor->set_weights(p.w_view(), p.bias_view());
  auto cpu = make_router(cfg, Device::Cpu);
  cpu->set_weights(p.w_view(), p.bias_view());
  const Result host = host_route(*autor, p.x_view(), Call{});
  REQUIRE(host.stats.device == DeviceType::Cpu);  // host tensors: the CPU backend
  const DeviceX dx = upload_x(p.x_view());
  const Result dev = device_route(*autor, dx.view, Call{});
  REQUIRE(dev.stats.device == DeviceType::Cuda);  // device tensors: the CUDA backend
  const Result want = host_route(*cpu, p.x_view(), Call{});
  require_same_bits(host, want, cfg.experts, cfg.top_k, "auto, host tensors");
  require_same_bits(dev, want, cfg.experts, cfg.top_k, "auto, device tensors");
  {
    DeviceCall call(*autor, p.x_view(), Call{});  // host x, device outputs
    REQUIRE_ERROR(call.run(), ErrorCode::DeviceMismatch);
    REQUIRE(call.untouched());
  }
}

// ---- the differential suite: canonical CUDA == canonical CPU, bit for bit ---------------------------

TEST_CASE("canonical mode: CUDA equals the CPU bit for bit on every preset (>= 1e5 rows each)",
          "[cuda][differential]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  struct Kind {
    ref::InputKind kind;
    DType dtype;
    int64_t rows;
  };
  const std::vector<Kind> kinds = {
      {ref::InputKind::Random, DType::F32, 24576},       {ref::InputKind::Random, DType::BF16, 16384},
      {ref::InputKind::IntegerValued, DType::F32, 20480}, {ref::InputKind::TieHeavy, DType::F32, 20480},
      {ref::InputKind::Adversarial, DType::F32, 20480}};
  constexpr int kParts = 16;
  for (const std::string& name : preset_names()) {
    const auto t0 = std::chrono::steady_clock::now();
    const RouterConfig cfg = preset(name);
    auto cpu = make_router(cfg, Device::Cpu);
    auto gpu = make_router(cfg, Device::Cuda);
    int64_t rows = 0;
    uint64_t seed = 1000;
    for (const Kind& k : kinds) {
      const auto parts = generate_parts(cfg, k.rows / kParts, kParts, k.kind, k.dtype, seed += 100);
      for (const auto& p : parts)
        rows += compare_problem(*cpu, *gpu, p,
                                name + " " + kind_name(k.kind) + " " + to_string(k.dtype) + " seed " +
                                    std::to_string(p.seed));
    }
    std::printf("differential %-13s %6lld rows: logits, weights, ids, counts bit-identical (%.1f s)\n",
                name.c_str(), static_cast<long long>(rows), seconds_since(t0));
    REQUIRE(rows >= 100000);
  }
}

TEST_CASE("canonical mode: CUDA equals the CPU for every score function on every preset's shape",
          "[cuda][differential]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (const std::string& name : preset_names()) {
    for (ScoreFn score : {ScoreFn::SqrtSoftplus, ScoreFn::Sigmoid, ScoreFn::Softmax}) {
      RouterConfig cfg = preset(name);
      if (score == cfg.score) continue;  // the test above covers each preset's own function
      cfg.score = score;
      cfg.renormalize = score != ScoreFn::Sigmoid;  // and the non-renormalized path
      auto cpu = make_router(cfg, Device::Cpu);
      auto gpu = make_router(cfg, Device::Cuda);
      int64_t rows = 0;
      for (ref::InputKind kind :
           {ref::InputKind::Random, ref::InputKind::TieHeavy, ref::InputKind::Adversarial}) {
        for (const auto& p : generate_parts(cfg, 512, 8, kind, DType::F32, 77))
          rows += compare_problem(*cpu, *gpu, p, name + " score=" + to_string(score) + " " + kind_name(kind));
      }
      std::printf("differential %-13s score=%-12s %6lld rows bit-identical\n", name.c_str(),
                  to_string(score), static_cast<long long>(rows));
    }
  }
}

TEST_CASE("canonical mode: CUDA equals the CPU on odd shapes (k = E, N = 1, H % 64 != 0, groups)",
          "[cuda][differential]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const auto make = [](int64_t H, int64_t E, int k, ScoreFn s, int G = 1, int TG = 1, bool renorm = true) {
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
  };
  const std::vector<RouterConfig> configs = {
      make(1, 1, 1, ScoreFn::Sigmoid),
      make(33, 8, 8, ScoreFn::Softmax),            // k = E, H < one chunk
      make(200, 70, 5, ScoreFn::SqrtSoftplus),     // E not a multiple of any tile
      make(1000, 96, 7, ScoreFn::Sigmoid, 12, 3),  // groups
      make(65, 1024, 32, ScoreFn::Softmax),        // E and k at their limits, a 1-element last chunk
      make(127, 32, 32, ScoreFn::Sigmoid, 1, 1, false),
      make(64, 64, 6, ScoreFn::SqrtSoftplus),
      make(4097, 256, 8, ScoreFn::SqrtSoftplus, 8, 4),
      make(2050, 4, 1, ScoreFn::Softmax, 4, 1),    // one expert per group
  };
  for (const RouterConfig& cfg : configs) {
    auto cpu = make_router(cfg, Device::Cpu);
    auto gpu = make_router(cfg, Device::Cuda);
    uint64_t seed = 5;
    for (ref::InputKind kind : {ref::InputKind::Random, ref::InputKind::IntegerValued,
                                ref::InputKind::TieHeavy, ref::InputKind::Adversarial})
      for (int64_t n : {1, 3, 64, 65, 777})
        for (DType dtype : {DType::F32, DType::BF16}) {
          ++seed;
          ref::Problem p = ref::generate(cfg, n, kind, seed, dtype, seed % 3 != 0);
          if (seed % 5 == 0) ref::add_hash_routing(p, 50, seed);
          compare_problem(*cpu, *gpu, p, describe(cfg) + " " + kind_name(kind) + " " + to_string(dtype));
        }
  }
}

TEST_CASE("canonical mode is batch invariant on the GPU: N = 1, 7, 64, 65, 1000, 16384, any row "
          "position, both kernels, strided and bf16 x",
          "[cuda][canonical]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  constexpr int64_t kRows = 16384;
  for (const std::string& name : preset_names()) {
    const RouterConfig cfg = preset(name);
    const int64_t E = cfg.experts, H = cfg.hidden;
    const int k = cfg.top_k;
    const ref::Problem wp = ref::generate(cfg, 1, ref::InputKind::Random, 31);
    auto gpu = make_router(cfg, Device::Cuda);
    auto cpu = make_router(cfg, Device::Cpu);
    gpu->set_weights(wp.w_view(), wp.bias_view());
    cpu->set_weights(wp.w_view(), wp.bias_view());
    const std::vector<float> x = fast_x(kRows, H, 41);
    const TensorView hx = TensorView::matrix(const_cast<float*>(x.data()), DType::F32, kRows, H);
    const DeviceX dx = upload_x(hx);
    Call c;
    c.counts = DType::I32;
    const Result full = device_route(*gpu, dx.view, c);
    // The whole batch against the CPU too (these rows include every special class of fast_x).
    require_same_bits(full, host_route(*cpu, hx, c), E, k, name + " N=16384 against the CPU");
    Call plain;
    for (int64_t n : {1, 7, 64, 65, 1000}) {
      const Result r = device_route(*gpu, rows_of(dx.view, 0, n), plain);
      require_same_bits(r, result_rows(full, 0, n, E, k), E, k,
                        name + " first " + std::to_string(n) + " rows (" + r.stats.kernel + ")");
    }
    const std::vector<std::pair<int64_t, int64_t>> windows = {{123, 7}, {5000, 65}, {kRows - 1, 1}, {777, 1000}};
    for (const auto& [r0, n] : windows) {
      const Result r = device_route(*gpu, rows_of(dx.view, r0, n), plain);
      require_same_bits(r, result_rows(full, r0, n, E, k), E, k,
                        name + " rows [" + std::to_string(r0) + ", +" + std::to_string(n) + ")");
    }
    for (const char* kernel : {"splitk", "tiled"}) {
      KernelOverride force(kernel);
      for (int64_t n : {1, 65, 1000}) {
        const Result r = device_route(*gpu, rows_of(dx.view, 0, n), plain);
        require_same_bits(r, result_rows(full, 0, n, E, k), E, k,
                          name + " forced " + kernel + " N=" + std::to_string(n));
      }
    }
    // Strided x (row stride H + 3) and bf16 x give what the CPU gives for the same values.
    const TensorView h1000 = TensorView::matrix(const_cast<float*>(x.data()), DType::F32, 1000, H);
    const DeviceX strided = upload_x(h1000, H + 3);
    require_same_bits(device_route(*gpu, strided.view, plain), result_rows(full, 0, 1000, E, k), E, k,
                      name + " strided x");
    std::vector<uint16_t> xb(static_cast<size_t>(1000 * H));
    for (size_t i = 0; i < xb.size(); ++i) xb[i] = float_to_bf16(x[i]);
    const TensorView hb = TensorView::matrix(xb.data(), DType::BF16, 1000, H);
    const DeviceX db = upload_x(hb);
    require_same_bits(device_route(*gpu, db.view, plain), host_route(*cpu, hb, plain), E, k,
                      name + " bf16 x");
    std::printf("batch invariance %-13s N=1..16384, positions, both kernels, strided, bf16: identical\n",
                name.c_str());
  }
}

TEST_CASE("every epilogue version (fused, split, warp) equals the CPU epilogue on the GPU's own logits",
          "[cuda][epilogue]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  int64_t rows = 0;
  for (const std::string& name : preset_names())
    for (ScoreFn score : {ScoreFn::SqrtSoftplus, ScoreFn::Sigmoid, ScoreFn::Softmax}) {
      RouterConfig cfg = preset(name);
      cfg.score = score;
      auto gpu = make_router(cfg, Device::Cuda);
      uint64_t seed = 700;
      for (ref::InputKind kind : {ref::InputKind::Random, ref::InputKind::TieHeavy,
                                  ref::InputKind::Adversarial, ref::InputKind::IntegerValued}) {
        ++seed;
        ref::Problem p = ref::generate(cfg, 700, kind, seed, DType::BF16, seed % 2 == 0);
        if (kind == ref::InputKind::Random) ref::add_hash_routing(p, 97, seed);
        gpu->set_weights(p.w_view(), p.bias_view());
        const float* bias = p.bias.empty() ? nullptr : p.bias.data();
        const DeviceX dx = upload_x(p.x_view());
        for (int64_t n : {int64_t{1}, int64_t{33}, p.n})
          for (GemmMode mode : {GemmMode::Canonical, GemmMode::Fp32}) {
            Call c;
            c.gemm = mode;
            c.counts = DType::I32;
            set_hash(c, p, n);
            std::vector<float> logits;
            // warp: the exact activation and the list path for groups; warp-new: the activation screen
            // and group registers (the default)
            for (const char* version : {"fused", "split", "warp", "warp-new"}) {
              const bool fresh = std::string(version) == "warp-new";
              EpilogueOverride force(fresh ? "warp" : version);
              ScreenOverride screen(fresh);
              GroupRegistersOverride groups(fresh);
              const Result got = device_route(*gpu, rows_of(dx.view, 0, n), c);
              if (logits.empty()) logits = got.logits;
              Result want = host_epilogue(cfg, bias, got.logits, c);
              want.logits = logits;  // and the logits are those of the first version
              want.counts = histogram(want.ids, cfg.experts);
              require_same_bits(got, want, cfg.experts, cfg.top_k,
                                std::string(version) + " epilogue: " + name + " score=" + to_string(score) +
                                    " " + kind_name(kind) + " " + to_string(mode) + " n=" + std::to_string(n));
            }
            rows += n;
          }
      }
    }
  std::printf("epilogue fused, split, warp, warp-new == CPU epilogue on %lld rows (every preset x "
              "score x input kind)\n",
              static_cast<long long>(rows));
}

// ---- the activation screen (backends/cuda/src/activation_screen.cuh) ------------------------------

TEST_CASE("activation screen: the screened activation keeps its bound on all 2^32 logits",
          "[cuda][screen]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (ScoreFn score : {ScoreFn::SqrtSoftplus, ScoreFn::Sigmoid}) {
    const ct::ScreenSweep r = ct::sweep_activation_screen(score);
    std::printf("screen %-12s %llu logits, %llu outside |a - a'| <= %.3g |a'| + 2^-125, worst %.3g\n",
                to_string(score), static_cast<unsigned long long>(r.checked),
                static_cast<unsigned long long>(r.violations), r.bound_rel, r.worst_rel);
    INFO(to_string(score) << ": first failing logit bits 0x" << std::hex << r.first_bad_bits);
    REQUIRE(r.checked == (uint64_t{1} << 32));
    REQUIRE(r.violations == 0);
    REQUIRE(r.worst_rel < r.bound_rel);
    REQUIRE(r.worst_rel > 0.0);  // the screen is an approximation: a zero would mean it is not used
  }
}

// Rows whose biased scores crowd the k-th place: the bias cancels row 0's activations up to tiny
// offsets (some exactly: sel = +0), and the other rows are row 0 plus noise of 1e-7 ... 1e-1, so
// the screen meets near-ties, exact ties and > 32 candidates. Bits must equal the CPU's with the
// screen on and off.
TEST_CASE("activation screen: crowded and tied scores give the CPU's bits", "[cuda][screen]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  struct Shape {
    int64_t hidden, experts;
    int k;
    ScoreFn score;
  };
  for (const Shape& sh : {Shape{256, 384, 6, ScoreFn::SqrtSoftplus}, Shape{200, 256, 8, ScoreFn::Sigmoid},
                          Shape{64, 72, 5, ScoreFn::SqrtSoftplus}, Shape{96, 32, 32, ScoreFn::Sigmoid},
                          Shape{128, 1024, 32, ScoreFn::SqrtSoftplus}}) {
    RouterConfig cfg;
    cfg.hidden = sh.hidden;
    cfg.experts = sh.experts;
    cfg.top_k = sh.k;
    cfg.score = sh.score;
    cfg.scale = 2.5f;
    const int64_t H = sh.hidden, E = sh.experts;
    const std::vector<float> w = testing::uniform_vector(static_cast<size_t>(E * H), -0.5f, 0.5f, 91 + E);
    const std::vector<float> x0 = testing::uniform_vector(static_cast<size_t>(H), -2.0f, 2.0f, 92 + E);
    auto cpu = make_router(cfg, Device::Cpu);
    auto gpu = make_router(cfg, Device::Cuda);
    cpu->set_weights(TensorView::matrix(w.data(), E, H), std::nullopt);
    const Result first = host_route(*cpu, TensorView::matrix(x0.data(), 1, H), Call{});
    testing::Rng rng(93 + E);
    std::vector<float> bias(static_cast<size_t>(E));
    for (int64_t e = 0; e < E; ++e) {
      float act;
      epilogue::activate_row(&first.logits[e], 1, sh.score, &act);
      const float offset = (e % 3 == 0) ? 0.0f : rng.uniform(-1.0f, 1.0f) * ((e % 3 == 1) ? 1e-6f : 1e-3f);
      bias[e] = -act + offset;
    }
    cpu->set_weights(TensorView::matrix(w.data(), E, H), TensorView::vector(bias.data(), E));
    gpu->set_weights(TensorView::matrix(w.data(), E, H), TensorView::vector(bias.data(), E));
    const std::vector<float> sigmas = {0.0f, 1e-7f, 1e-6f, 1e-5f, 1e-4f, 1e-3f, 1e-2f, 1e-1f};
    const int64_t per = 64, n = per * static_cast<int64_t>(sigmas.size());
    std::vector<float> x(static_cast<size_t>(n * H));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t h = 0; h < H; ++h)
        x[r * H + h] = x0[h] + sigmas[r / per] * rng.uniform(-1.0f, 1.0f);
    const TensorView hx = TensorView::matrix(x.data(), n, H);
    Call c;
    c.counts = DType::I32;
    const Result want = host_route(*cpu, hx, c);
    const DeviceX dx = upload_x(hx);
    for (bool on : {true, false}) {
      ScreenOverride screen(on);
      require_same_bits(device_route(*gpu, dx.view, c), want, E, sh.k,
                        describe(cfg) + (on ? " screened" : " unscreened") + ", crowded scores");
    }
  }
}

// ---- fp32 and bf16 modes ------------------------------------------------------------------------------

TEST_CASE("fp32 and bf16 modes: epilogue bit-exact on the GPU's own logits, ids equal the float64 "
          "oracle outside the near-tie band",
          "[cuda][fp32]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  struct Case {
    GemmMode mode;
    DType dtype;
    ref::InputKind kind;
    int64_t n;
  };
  const std::vector<Case> cases = {
      {GemmMode::Fp32, DType::F32, ref::InputKind::Random, 512},
      {GemmMode::Fp32, DType::F32, ref::InputKind::IntegerValued, 128},
      {GemmMode::Fp32, DType::F32, ref::InputKind::Adversarial, 128},
      {GemmMode::Fp32, DType::BF16, ref::InputKind::Random, 256},
      {GemmMode::Bf16, DType::BF16, ref::InputKind::Random, 512},
      {GemmMode::Bf16, DType::BF16, ref::InputKind::TieHeavy, 128},
      {GemmMode::Bf16, DType::F32, ref::InputKind::Random, 128},  // f32 x rounded on the device
  };
  for (const std::string& name : preset_names()) {
    const RouterConfig cfg = preset(name);
    const int64_t E = cfg.experts;
    const int k = cfg.top_k;
    auto gpu = make_router(cfg, Device::Cuda);
    uint64_t seed = 300;
    for (const Case& cs : cases) {
      ref::Problem p = ref::generate(cfg, cs.n, cs.kind, ++seed, cs.dtype);
      if (seed % 3 == 0) ref::add_hash_routing(p, 211, seed);
      gpu->set_weights(p.w_view(), p.bias_view());
      Call c;
      c.gemm = cs.mode;
      c.counts = DType::I64;
      set_hash(c, p, p.n);
      const DeviceX dx = upload_x(p.x_view());
      const Result got = device_route(*gpu, dx.view, c);
      const std::string label = name + " " + to_string(cs.mode) + " x=" + to_string(cs.dtype) + " " +
                                kind_name(cs.kind) + (p.hashed() ? " hashed" : "");
      INFO(label << " kernel " << got.stats.kernel);
      // (1) The epilogue: the shared functions on the GPU's own logits give the GPU's outputs.
      Result want = host_epilogue(cfg, p.bias.empty() ? nullptr : p.bias.data(), got.logits, c);
      want.counts = histogram(want.ids, E);
      require_same_bits(got, want, E, k, label + ": epilogue on own logits");
      // (2) ids against the float64 oracle, when the oracle sees the values the GEMM multiplied.
      const bool judged = cs.mode == GemmMode::Fp32 || cs.dtype == DType::BF16;
      if (!judged) continue;
      const std::vector<ref::OracleRow> oracle = oracle_rows(p);
      const ref::BatchJudgement b = ref::judge_all(cfg, oracle, got.ids.data(), got.weights.data());
      INFO("exact " << b.exact << " near-tie " << b.near_tie << " mismatch " << b.mismatch
                    << " non-finite " << b.nonfinite << "\nfirst mismatch: " << b.first_mismatch);
      REQUIRE(b.mismatch == 0);
      // Rows outside the practical band must match exactly (DESIGN.md §2 (3)).
      int64_t outside = 0, inside_mismatch = 0, exact_logit_diffs = 0;
      double err2 = 0, ref2 = 0, worst_ratio = 0;
      for (int64_t i = 0; i < p.n; ++i) {
        const ref::OracleRow& o = oracle[i];
        if (!o.finite) continue;
        const bool exact_ids = std::equal(o.ids.begin(), o.ids.end(), &got.ids[i * k]);
        const double gap = std::min(ref::expert_boundary_gap(o), ref::group_boundary_gap(o));
        double mag = 0;
        for (double s : o.sel) mag = std::max(mag, std::fabs(s));
        if (gap > ref::practical_band(mag)) {
          ++outside;
          INFO("row " << i << " gap " << gap << " outside the practical band");
          REQUIRE(exact_ids);
        } else {
          inside_mismatch += !exact_ids;
        }
        for (int64_t e = 0; e < E; ++e) {
          const double d = static_cast<double>(got.logits[i * E + e]) - o.logits[e];
          err2 += d * d;
          ref2 += o.logits[e] * o.logits[e];
          if (o.delta > 0) worst_ratio = std::max(worst_ratio, std::fabs(d) / o.delta);
          if (o.exact_logits)
            exact_logit_diffs += bits_of(got.logits[i * E + e]) != bits_of(ref::round_to_f32(o.logits[e]));
        }
      }
      REQUIRE(exact_logit_diffs == 0);  // logits exact in any order must come out exactly
      const double rel_rms = ref2 > 0 ? std::sqrt(err2 / ref2) : 0;
      std::printf("%-13s %-4s x=%-8s %-11s n=%4lld: exact %lld near-tie %lld; outside the practical "
                  "band %lld rows (all exact), inside it %lld differ; logit rel RMS %.2e, max |err|/bound %.3f\n",
                  name.c_str(), to_string(cs.mode), to_string(cs.dtype), kind_name(cs.kind),
                  static_cast<long long>(p.n), static_cast<long long>(b.exact),
                  static_cast<long long>(b.near_tie), static_cast<long long>(outside),
                  static_cast<long long>(inside_mismatch), rel_rms, worst_ratio);
      if (cs.mode == GemmMode::Fp32) {
        REQUIRE(worst_ratio <= 1.0);  // inside the rigorous FP32 bound of every row
        // TF32 (10-bit mantissa) would put this near 1e-4; true FP32 accumulation is near 1e-7.
        if (cs.kind == ref::InputKind::Random) REQUIRE(rel_rms < 1e-5);
      }
    }
  }
}

// ---- outputs, counts, hash routing, validate, bad arguments -----------------------------------------

TEST_CASE("every output element is written, guard zones stay intact, counts equal the CPU's",
          "[cuda]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const RouterConfig cfg = small_config(ScoreFn::SqrtSoftplus);
  const ref::Problem p = ref::generate(cfg, 1000, ref::InputKind::Random, 3);
  auto cpu = make_router(cfg, Device::Cpu);
  auto gpu = make_router(cfg, Device::Cuda);
  cpu->set_weights(p.w_view(), p.bias_view());
  gpu->set_weights(p.w_view(), p.bias_view());
  const DeviceX dx = upload_x(p.x_view());
  for (GemmMode mode : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16})
    for (DType counts : {DType::I32, DType::I64})
      for (int64_t n : {0, 1, 65, 1000}) {
        Call c;
        c.gemm = mode;
        c.counts = counts;
        const TensorView hx = TensorView::matrix(const_cast<float*>(p.x.data()), DType::F32, n, cfg.hidden);
        const Result got = device_route(*gpu, rows_of(dx.view, 0, n), c);
        const std::string label = std::string(to_string(mode)) + " counts " + to_string(counts) +
                                  " n=" + std::to_string(n);
        INFO(label);
        REQUIRE(got.guards_ok);
        REQUIRE(got.unwritten == 0);
        REQUIRE(got.counts == histogram(got.ids, cfg.experts));
        if (mode == GemmMode::Canonical) require_same_bits(got, host_route(*cpu, hx, c), cfg.experts, cfg.top_k, label);
      }
}

TEST_CASE("hash routing equals the CPU, bad token ids and table entries are rejected with the CPU's "
          "message before anything is written",
          "[cuda]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const RouterConfig cfg = preset("dsv4-flash");
  ref::Problem p = ref::generate(cfg, 300, ref::InputKind::Random, 8);
  ref::add_hash_routing(p, 1009, 9);
  auto cpu = make_router(cfg, Device::Cpu);
  auto gpu = make_router(cfg, Device::Cuda);
  cpu->set_weights(p.w_view(), p.bias_view());
  gpu->set_weights(p.w_view(), p.bias_view());
  const DeviceX dx = upload_x(p.x_view());
  for (DType td : {DType::I32, DType::I64})
    for (DType hd : {DType::I32, DType::I64}) {
      Call c;
      c.counts = DType::I32;
      set_hash(c, p, p.n);
      c.token_dtype = td;
      c.table_dtype = hd;
      require_same_bits(device_route(*gpu, dx.view, c), host_route(*cpu, p.x_view(), c), cfg.experts,
                        cfg.top_k, std::string("hash tokens ") + to_string(td) + " table " + to_string(hd));
    }
  const auto bad_case = [&](const std::string& what, const std::function<void(Call&)>& spoil) {
    Call c;
    c.counts = DType::I64;
    set_hash(c, p, p.n);
    c.token_dtype = DType::I64;
    spoil(c);
    ErrorCode cpu_code = ErrorCode::Internal, gpu_code = ErrorCode::Internal;
    const std::string cpu_msg = error_of([&] { host_route(*cpu, p.x_view(), c); }, &cpu_code);
    DeviceCall call(*gpu, dx.view, c);
    const std::string gpu_msg = error_of([&] { call.run(); }, &gpu_code);
    INFO(what << "\ncpu: " << cpu_msg << "\ngpu: " << gpu_msg);
    REQUIRE(cpu_code == ErrorCode::InvalidArgument);
    REQUIRE(gpu_code == ErrorCode::InvalidArgument);
    REQUIRE(gpu_msg == cpu_msg);
    REQUIRE(call.untouched());
  };
  bad_case("token id = vocab", [](Call& c) { c.tokens[17] = c.vocab; });
  bad_case("token id = -1", [](Call& c) { c.tokens[200] = -1; });
  bad_case("token id 2^40", [](Call& c) { c.tokens[3] = int64_t{1} << 40; });
  bad_case("table entry = E", [&](Call& c) { c.table[c.tokens[5] * cfg.top_k + 2] = cfg.experts; });
  bad_case("table entry = -3", [&](Call& c) { c.table[c.tokens[299] * cfg.top_k] = -3; });
}

TEST_CASE("validate=true rejects a non-finite row with the CPU's message and writes nothing",
          "[cuda]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const RouterConfig cfg = small_config(ScoreFn::Softmax);
  ref::Problem p = ref::generate(cfg, 100, ref::InputKind::Random, 21);
  auto cpu = make_router(cfg, Device::Cpu);
  auto gpu = make_router(cfg, Device::Cuda);
  cpu->set_weights(p.w_view(), p.bias_view());
  gpu->set_weights(p.w_view(), p.bias_view());
  for (GemmMode mode : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16}) {
    Call c;
    c.gemm = mode;
    c.validate = true;
    c.counts = DType::I32;
    {  // clean input passes, and says so
      const DeviceX dx = upload_x(p.x_view());
      const Result got = device_route(*gpu, dx.view, c);
      REQUIRE(got.unwritten == 0);
      REQUIRE(got.stats.nonfinite_rows == 0);
      Call plain = c;
      plain.validate = false;
      REQUIRE(device_route(*gpu, dx.view, plain).stats.nonfinite_rows == -1);  // not counted (cuda.hpp)
    }
    ref::Problem bad = p;
    bad.x[57 * cfg.hidden + 9] = std::numeric_limits<float>::quiet_NaN();
    bad.x[80 * cfg.hidden] = std::numeric_limits<float>::infinity();
    const DeviceX dx = upload_x(bad.x_view());
    ErrorCode cpu_code = ErrorCode::Internal, gpu_code = ErrorCode::Internal;
    const std::string cpu_msg = error_of([&] { host_route(*cpu, bad.x_view(), c); }, &cpu_code);
    DeviceCall call(*gpu, dx.view, c);
    const std::string gpu_msg = error_of([&] { call.run(); }, &gpu_code);
    INFO(to_string(mode) << "\ncpu: " << cpu_msg << "\ngpu: " << gpu_msg);
    REQUIRE(gpu_code == ErrorCode::NonFiniteInput);
    REQUIRE(gpu_msg == cpu_msg);
    REQUIRE(call.untouched());
  }
}

TEST_CASE("sync_stats: non-finite rows counted on the device equal the CPU's counts, every "
          "epilogue version and gemm mode",
          "[cuda][sanitize]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (ScoreFn score : {ScoreFn::SqrtSoftplus, ScoreFn::Softmax}) {
    const RouterConfig cfg = small_config(score);
    ref::Problem p = ref::generate(cfg, 150, ref::InputKind::Random, 33);
    for (int64_t r : {131, 5, 77, 76})  // out of order: the first row is found by value, not timing
      p.x[r * cfg.hidden + (r % cfg.hidden)] = r % 2 ? std::numeric_limits<float>::quiet_NaN()
                                                     : -std::numeric_limits<float>::infinity();
    auto cpu = make_router(cfg, Device::Cpu);
    auto gpu = make_router(cfg, Device::Cuda);
    cpu->set_weights(p.w_view(), p.bias_view());
    gpu->set_weights(p.w_view(), p.bias_view());
    const DeviceX dx = upload_x(p.x_view());
    for (GemmMode mode : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16}) {
      Call c;
      c.gemm = mode;
      const Result want = host_route(*cpu, p.x_view(), c);
      REQUIRE(want.stats.nonfinite_rows == 4);
      REQUIRE(want.stats.first_nonfinite_row == 5);
      for (const char* version : {"warp", "fused", "split"}) {
        EpilogueOverride force(version);
        c.sync_stats = true;
        for (int repeat = 0; repeat < 2; ++repeat) {  // the counters restart at every call
          const Result got = device_route(*gpu, dx.view, c);
          INFO(to_string(mode) << " " << version << " repeat " << repeat);
          REQUIRE(got.stats.nonfinite_rows == want.stats.nonfinite_rows);
          REQUIRE(got.stats.first_nonfinite_row == want.stats.first_nonfinite_row);
          REQUIRE(got.unwritten == 0);
        }
        c.sync_stats = false;
        const Result uncounted = device_route(*gpu, dx.view, c);
        REQUIRE(uncounted.stats.nonfinite_rows == -1);  // not counted without sync_stats (cuda.hpp)
        REQUIRE(uncounted.stats.first_nonfinite_row == -1);
      }
    }
    // Clean rows: zero, and the first row is -1.
    const ref::Problem clean = ref::generate(cfg, 40, ref::InputKind::Random, 34);
    const DeviceX cx = upload_x(clean.x_view());
    Call c;
    c.sync_stats = true;
    const Result got = device_route(*gpu, cx.view, c);
    REQUIRE(got.stats.nonfinite_rows == 0);
    REQUIRE(got.stats.first_nonfinite_row == -1);
  }
}

TEST_CASE("bad arguments: host pointers, wrong device, route before set_weights, device-resident "
          "and bf16 weights",
          "[cuda]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const RouterConfig cfg = small_config(ScoreFn::Sigmoid, 8, 2);
  const ref::Problem p = ref::generate(cfg, 40, ref::InputKind::Random, 4);
  auto gpu = make_router(cfg, Device::Cuda);
  const DeviceX dx = upload_x(p.x_view());
  {
    DeviceCall call(*gpu, dx.view, Call{});
    REQUIRE_ERROR(call.run(), ErrorCode::InvalidArgument);  // no weights yet
    REQUIRE(call.untouched());
  }
  gpu->set_weights(p.w_view(), p.bias_view());
  {  // host x on a CUDA router
    DeviceCall call(*gpu, p.x_view(), Call{});
    REQUIRE_ERROR(call.run(), ErrorCode::DeviceMismatch);
    REQUIRE(call.untouched());
  }
  {  // a device id this router does not own
    TensorView x = dx.view;
    x.device_id = 7;
    DeviceCall call(*gpu, x, Call{});
    REQUIRE_ERROR(call.run(), ErrorCode::DeviceMismatch);
  }
  {  // device x on a CPU router
    auto cpu = make_router(cfg, Device::Cpu);
    cpu->set_weights(p.w_view(), p.bias_view());
    REQUIRE_ERROR(host_route(*cpu, dx.view, Call{}), ErrorCode::DeviceMismatch);
  }
  {  // wrong shape is caught by the shared checks
    TensorView x = dx.view;
    x.shape[1] = cfg.hidden - 1;
    DeviceCall call(*gpu, x, Call{});
    REQUIRE_ERROR(call.run(), ErrorCode::ShapeMismatch);
  }
  REQUIRE_ERROR(dynamic_cast<cuda::CudaRouter&>(*gpu).reserve(-1), ErrorCode::InvalidArgument);
  // Weights given in device memory, and bf16 weights, route like their host equivalents.
  const Result want = device_route(*gpu, dx.view, Call{});
  auto gpu2 = make_router(cfg, Device::Cuda);
  const DeviceBuffer dw = DeviceBuffer::from(p.w);
  const DeviceBuffer db = DeviceBuffer::from(p.bias);
  gpu2->set_weights(TensorView::matrix(dw.data(), DType::F32, cfg.experts, cfg.hidden, DeviceType::Cuda),
                    TensorView::vector(db.data(), DType::F32, cfg.experts, DeviceType::Cuda));
  require_same_bits(device_route(*gpu2, dx.view, Call{}), want, cfg.experts, cfg.top_k, "device weights");
  const ref::Problem pb = ref::generate(cfg, 40, ref::InputKind::Random, 4, DType::BF16);
  auto cpu = make_router(cfg, Device::Cpu);
  cpu->set_weights(pb.w_view(), pb.bias_view());
  gpu2->set_weights(pb.w_view(), pb.bias_view());
  const DeviceX dxb = upload_x(pb.x_view());
  require_same_bits(device_route(*gpu2, dxb.view, Call{}), host_route(*cpu, pb.x_view(), Call{}),
                    cfg.experts, cfg.top_k, "bf16 weights and x");
  // Without bias after with bias.
  gpu2->set_weights(pb.w_view(), std::nullopt);
  cpu->set_weights(pb.w_view(), std::nullopt);
  require_same_bits(device_route(*gpu2, dxb.view, Call{}), host_route(*cpu, pb.x_view(), Call{}),
                    cfg.experts, cfg.top_k, "bias removed");
}

// ---- CUDA graphs and concurrency ---------------------------------------------------------------------

TEST_CASE("route() captured in a CUDA graph replays with identical results", "[cuda][graph]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const RouterConfig cfg = preset("dsv3");
  const int64_t n = 200, E = cfg.experts;
  const int k = cfg.top_k;
  const ref::Problem p1 = ref::generate(cfg, n, ref::InputKind::Random, 51);
  const ref::Problem p2 = ref::generate(cfg, n, ref::InputKind::Adversarial, 52);
  auto gpu = make_router(cfg, Device::Cuda);
  auto& cuda_router = dynamic_cast<cuda::CudaRouter&>(*gpu);
  gpu->set_weights(p1.w_view(), p1.bias_view());
  void* stream = ct::create_stream();
  cuda_router.reserve(n, stream);

  // Direct (uncaptured) results for both inputs and both modes; these also load every kernel.
  const DeviceX d1 = upload_x(p1.x_view()), d2 = upload_x(p2.x_view());
  Call canon, fp32;
  canon.counts = fp32.counts = DType::I32;
  fp32.gemm = GemmMode::Fp32;
  const Result want1c = device_route(*gpu, d1.view, canon), want1f = device_route(*gpu, d1.view, fp32);
  const Result want2c = device_route(*gpu, d2.view, canon), want2f = device_route(*gpu, d2.view, fp32);

  // One graph: both modes routed from one x buffer into two output sets.
  DeviceBuffer x(static_cast<size_t>(n * cfg.hidden) * 4);
  const TensorView xv = TensorView::matrix(x.data(), DType::F32, n, cfg.hidden, DeviceType::Cuda);
  Call cc = canon, cf = fp32;
  cc.stream = cf.stream = stream;
  DeviceCall outc(*gpu, xv, cc), outf(*gpu, xv, cf);
  ct::Graph graph;
  graph.begin_capture(stream);
  try {
    outc.run();
    outf.run();
  } catch (...) {
    graph.abort_capture();
    throw;
  }
  graph.end_capture();
  REQUIRE(outc.untouched());  // capturing runs nothing
  for (int replay = 0; replay < 3; ++replay) {
    const ref::Problem& p = replay == 1 ? p2 : p1;
    x.upload(p.x.data(), p.x.size() * 4);
    outc.poison();
    outf.poison();
    graph.launch(stream);
    ct::synchronize(stream);
    require_same_bits(outc.collect(), replay == 1 ? want2c : want1c, E, k, "graph replay canonical");
    require_same_bits(outf.collect(), replay == 1 ? want2f : want1f, E, k, "graph replay fp32");
  }

  // set_weights keeps device addresses: a replay sees the new weights.
  const ref::Problem pw = ref::generate(cfg, 1, ref::InputKind::Random, 53);
  gpu->set_weights(pw.w_view(), pw.bias_view());
  const Result want_new = device_route(*gpu, d1.view, canon);
  x.upload(p1.x.data(), p1.x.size() * 4);
  outc.poison();
  graph.launch(stream);
  require_same_bits(outc.collect(), want_new, E, k, "graph replay after set_weights");

  // Capturing on a stream without a reserved workspace, or with validate, is refused cleanly.
  void* other = ct::create_stream();
  {
    DeviceCall call(*gpu, xv, [&] { Call c = canon; c.stream = other; return c; }());
    ct::Graph g;
    g.begin_capture(other);
    ErrorCode code = ErrorCode::Internal;
    const std::string msg = error_of([&] { call.run(); }, &code);
    g.abort_capture();
    INFO(msg);
    REQUIRE(code == ErrorCode::InvalidArgument);
  }
  for (const char* option : {"validate", "sync_stats"}) {  // both read values back: not capturable
    Call c = canon;
    c.stream = stream;
    (std::string(option) == "validate" ? c.validate : c.sync_stats) = true;
    DeviceCall call(*gpu, xv, c);
    ct::Graph g;
    g.begin_capture(stream);
    ErrorCode code = ErrorCode::Internal;
    const std::string msg = error_of([&] { call.run(); }, &code);
    g.abort_capture();
    INFO(msg);
    REQUIRE(code == ErrorCode::Unsupported);
    REQUIRE(msg.find(option) != std::string::npos);
  }
  ct::synchronize(stream);
  ct::destroy_stream(other);
  ct::destroy_stream(stream);
}

TEST_CASE("4 host threads x 4 streams sharing one router give the serial results", "[cuda][threads]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const RouterConfig cfg = preset("dsv4-flash");
  const int64_t E = cfg.experts;
  const int k = cfg.top_k;
  constexpr int kThreads = 4, kIterations = 8;
  auto gpu = make_router(cfg, Device::Cuda);
  std::vector<ref::Problem> ps;
  for (int t = 0; t < kThreads; ++t) ps.push_back(ref::generate(cfg, 64 + 300 * t, ref::InputKind::Random, 60 + t));
  ref::add_hash_routing(ps[3], 500, 7);
  gpu->set_weights(ps[0].w_view(), ps[0].bias_view());  // one W for all (per-problem W differs)
  std::vector<DeviceX> xs;
  for (const auto& p : ps) xs.push_back(upload_x(p.x_view()));
  const auto call_for = [&](int t, GemmMode mode, void* stream) {
    Call c;
    c.gemm = mode;
    c.counts = DType::I64;
    c.stream = stream;
    set_hash(c, ps[t], ps[t].n);
    return c;
  };
  // Serial reference on the legacy default stream.
  std::vector<Result> serial;
  for (int t = 0; t < kThreads; ++t)
    for (GemmMode mode : {GemmMode::Canonical, GemmMode::Fp32})
      serial.push_back(device_route(*gpu, xs[t].view, call_for(t, mode, nullptr)));
  std::vector<std::vector<Result>> got(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        void* stream = ct::create_stream();
        for (int it = 0; it < kIterations; ++it)
          for (GemmMode mode : {GemmMode::Canonical, GemmMode::Fp32})
            got[t].push_back(device_route(*gpu, xs[t].view, call_for(t, mode, stream)));
        ct::destroy_stream(stream);
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t << ": " << errors[t]);
    REQUIRE(errors[t].empty());
    REQUIRE(got[t].size() == 2u * kIterations);
    for (size_t i = 0; i < got[t].size(); ++i)
      require_same_bits(got[t][i], serial[2 * t + i % 2], E, k,
                        "thread " + std::to_string(t) + " call " + std::to_string(i));
  }
}

// ---- a small subset for compute-sanitizer (memcheck, racecheck) -------------------------------------

TEST_CASE("sanitizer subset: every mode and kernel on small shapes", "[cuda][sanitize]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (const RouterConfig& cfg : {small_config(ScoreFn::SqrtSoftplus), small_config(ScoreFn::Softmax, 8, 3)}) {
    ref::Problem p = ref::generate(cfg, 130, ref::InputKind::Adversarial, 90, DType::F32);
    ref::add_hash_routing(p, 37, 91);
    auto cpu = make_router(cfg, Device::Cpu);
    auto gpu = make_router(cfg, Device::Cuda);
    cpu->set_weights(p.w_view(), p.bias_view());
    gpu->set_weights(p.w_view(), p.bias_view());
    const DeviceX dx = upload_x(p.x_view(), cfg.hidden + 1);
    for (const char* kernel : {"splitk", "tiled"})
    for (const char* version : {"fused", "split", "warp"}) {
      KernelOverride force(kernel);
      EpilogueOverride epilogue(version);
      for (int64_t n : {1, 7, 65, 130}) {
        const TensorView hx = TensorView::matrix(p.x.data(), DType::F32, n, cfg.hidden);
        Call c;
        c.counts = DType::I32;
        require_same_bits(device_route(*gpu, rows_of(dx.view, 0, n), c), host_route(*cpu, hx, c),
                          cfg.experts, cfg.top_k, std::string("sanitize canonical ") + kernel + " " + version);
        set_hash(c, p, n);
        require_same_bits(device_route(*gpu, rows_of(dx.view, 0, n), c), host_route(*cpu, hx, c),
                          cfg.experts, cfg.top_k, std::string("sanitize hashed ") + kernel + " " + version);
      }
    }
    for (GemmMode mode : {GemmMode::Fp32, GemmMode::Bf16}) {
      Call c;
      c.gemm = mode;
      c.counts = DType::I64;
      const Result got = device_route(*gpu, rows_of(dx.view, 0, 65), c);
      Result want = host_epilogue(cfg, p.bias.data(), got.logits, c);
      want.counts = histogram(want.ids, cfg.experts);
      require_same_bits(got, want, cfg.experts, cfg.top_k, std::string("sanitize ") + to_string(mode));
      c.validate = true;
      DeviceCall call(*gpu, rows_of(dx.view, 0, 65), c);
      REQUIRE_ERROR(call.run(), ErrorCode::NonFiniteInput);  // adversarial rows hold NaN
      REQUIRE(call.untouched());
    }
  }
}

// ---- timings (not a check; hidden from the default run, selected by "[cuda]" or "[timing]") --------

TEST_CASE("timings of route() per preset, N and mode (host clock over 20 calls; scr: activation screen and group registers on, the other rows off)", "[.][cuda][timing]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const auto time_us = [](const std::function<void()>& call, void* stream) {
    for (int i = 0; i < 3; ++i) call();  // warm-up: module loading, cuBLAS heuristics
    ct::synchronize(stream);
    constexpr int kCalls = 20;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) call();
    ct::synchronize(stream);
    return seconds_since(t0) * 1e6 / kCalls;
  };
  std::printf("%-13s %6s %-9s %-5s %10s %12s\n", "config", "N", "gemm", "x", "us/call", "GEMM TFLOP/s");
  struct Shape {
    std::string name;
    RouterConfig cfg;
  };
  std::vector<Shape> shapes;
  for (const char* n : {"dsv4-pro", "dsv3", "mixtral"}) shapes.push_back({n, preset(n)});
  RouterConfig tiny = preset("dsv4-pro");
  tiny.hidden = 64;  // GEMM negligible: the epilogue's cost
  shapes.push_back({"dsv4-pro/H64", tiny});
  void* stream = ct::create_stream();
  for (const Shape& s : shapes) {
    const RouterConfig& cfg = s.cfg;
    const ref::Problem wp = ref::generate(cfg, 1, ref::InputKind::Random, 1);
    auto gpu = make_router(cfg, Device::Cuda);
    gpu->set_weights(wp.w_view(), wp.bias_view());
    dynamic_cast<cuda::CudaRouter&>(*gpu).reserve(16384, stream);
    const std::vector<float> x = fast_x(16384, cfg.hidden, 3);
    std::vector<uint16_t> xb(x.size());
    for (size_t i = 0; i < x.size(); ++i) xb[i] = float_to_bf16(x[i]);
    const DeviceX dx = upload_x(TensorView::matrix(const_cast<float*>(x.data()), DType::F32, 16384, cfg.hidden));
    const DeviceX dxb = upload_x(TensorView::matrix(xb.data(), DType::BF16, 16384, cfg.hidden));
    DeviceBuffer w(16384 * cfg.top_k * 4), ids(16384 * cfg.top_k * 4);
    for (int64_t n : {1, 64, 1024, 16384})
      for (GemmMode mode : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16}) {
        const DeviceX& xx = mode == GemmMode::Bf16 ? dxb : dx;
        RouteOptions o;
        o.gemm = mode;
        o.stream = stream;
        const TensorView xv = rows_of(xx.view, 0, n);
        const TensorView wv = TensorView::matrix(w.data(), DType::F32, n, cfg.top_k, DeviceType::Cuda);
        const TensorView iv = TensorView::matrix(ids.data(), DType::I32, n, cfg.top_k, DeviceType::Cuda);
        double us = 0;
        {  // the fresh paths off: the exact activation everywhere, the list path for groups
          ScreenOverride off(false);
          GroupRegistersOverride groups(false);
          us = time_us([&] { gpu->route(xv, wv, iv, o); }, stream);
        }
        const double tflops = 2.0 * n * cfg.hidden * cfg.experts / (us * 1e-6) / 1e12;
        std::printf("%-13s %6lld %-9s %-5s %10.1f %12.2f\n", s.name.c_str(), static_cast<long long>(n),
                    to_string(mode), mode == GemmMode::Bf16 ? "bf16" : "f32", us, tflops);
        {  // the same with the activation screen and group registers on
          ScreenOverride on(true);
          GroupRegistersOverride groups(true);
          const double vus = time_us([&] { gpu->route(xv, wv, iv, o); }, stream);
          std::printf("%-13s %6lld %-9s %-5s %10.1f %12s\n", s.name.c_str(), static_cast<long long>(n),
                      to_string(mode), "scr", vus, "-");
        }
        if (n == 1 && mode == GemmMode::Canonical) {  // the same call replayed from a CUDA graph
          ct::Graph g;
          g.begin_capture(stream);
          gpu->route(xv, wv, iv, o);
          g.end_capture();
          const double gus = time_us([&] { g.launch(stream); }, stream);
          std::printf("%-13s %6d %-9s %-5s %10.1f %12s\n", s.name.c_str(), 1, "canonical", "graph", gus, "-");
        }
      }
  }
  ct::destroy_stream(stream);
}


TEST_CASE("host tensors on a CUDA router are staged through the device and give the device's bits",
          "[cuda]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (const char* name : {"dsv4-flash", "dsv3"}) {
    const RouterConfig cfg = preset(name);
    ref::Problem p = ref::generate(cfg, 70, ref::InputKind::Adversarial, 91, DType::BF16);
    ref::add_hash_routing(p, 33, 92);
    auto gpu = make_router(cfg, Device::Cuda);
    auto cpu = make_router(cfg, Device::Cpu);
    gpu->set_weights(p.w_view(), p.bias_view());
    cpu->set_weights(p.w_view(), p.bias_view());
    for (bool hashed : {false, true}) {
      Call c;
      c.counts = DType::I64;
      if (hashed) set_hash(c, p, p.n);
      const Result staged = host_route(*gpu, p.x_view(), c);  // every tensor in host memory
      const Result want = host_route(*cpu, p.x_view(), c);
      require_same_bits(staged, want, cfg.experts, cfg.top_k, std::string(name) + " host-staged vs CPU");
      REQUIRE(staged.counts == want.counts);
      REQUIRE(staged.stats.nonfinite_rows == want.stats.nonfinite_rows);
      REQUIRE(staged.stats.first_nonfinite_row == want.stats.first_nonfinite_row);
      const DeviceX dx = upload_x(p.x_view());
      require_same_bits(device_route(*gpu, dx.view, c), want, cfg.experts, cfg.top_k,
                        std::string(name) + " device path vs CPU");
    }
  }
}

namespace {
// GPU layout (through host staging) against the CPU's, in int32 and int64.
void require_layout_equal(const std::string& name, const RouterConfig& cfg, int64_t n) {
  const ref::Problem p = ref::generate(cfg, n, ref::InputKind::TieHeavy, 93, DType::BF16);
  auto gpu = make_router(cfg, Device::Cuda);
  auto cpu = make_router(cfg, Device::Cpu);
  gpu->set_weights(p.w_view(), p.bias_view());
  cpu->set_weights(p.w_view(), p.bias_view());
  for (DType dtype : {DType::I32, DType::I64}) {
    const int64_t E = cfg.experts, nk = n * cfg.top_k;
    const size_t es = dtype_size(dtype);
    std::vector<std::vector<char>> out;  // [cpu offsets, cpu slots, gpu offsets, gpu slots]
    for (Router* r : {cpu.get(), gpu.get()}) {
      std::vector<char> offsets((E + 1) * es, 0x5A), slots(nk * es, 0x5A);
      std::vector<float> w(static_cast<size_t>(nk));
      std::vector<int32_t> ids(static_cast<size_t>(nk));
      RouteOptions o;
      o.expert_offsets_out = TensorView::vector(offsets.data(), dtype, E + 1);
      o.token_slots_out = TensorView::vector(slots.data(), dtype, nk);
      r->route(p.x_view(), TensorView::matrix(w.data(), n, cfg.top_k),
               TensorView::matrix(ids.data(), n, cfg.top_k), o);  // host tensors: staged on the GPU
      out.push_back(offsets);
      out.push_back(slots);
    }
    INFO(name << " " << moerouter::to_string(dtype));
    REQUIRE(out[0] == out[2]);
    REQUIRE(out[1] == out[3]);
  }
}
}  // namespace

TEST_CASE("the dispatch layout on the GPU equals the CPU's on preset shapes", "[cuda]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (const char* name : {"dsv4-pro", "dsv3", "mixtral"}) require_layout_equal(name, preset(name), 1000);
}

// Small enough for racecheck, which is slow.
TEST_CASE("the dispatch layout on the GPU equals the CPU's (small, sanitizer subset)", "[cuda][sanitize]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  RouterConfig small;
  small.hidden = 96;
  small.experts = 40;
  small.top_k = 4;
  small.score = ScoreFn::Sigmoid;
  require_layout_equal("small", small, 300);
}


// N * E > 2^31: every index on the device path must be 64-bit. Hidden (8.6 GB of logits on the
// device); run with "[huge]". A strided sample of rows is compared with the CPU, which is valid
// because canonical output is batch-invariant.
TEST_CASE("N * E > 2^31 routes correctly on the GPU (strided sample against the CPU)", "[.][cuda][huge]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  RouterConfig cfg;
  cfg.hidden = 64;
  cfg.experts = 1024;
  cfg.top_k = 8;
  cfg.score = ScoreFn::Sigmoid;
  const int64_t n = (int64_t(1) << 31) / cfg.experts + 4099;  // N * E = 2^31 + 4099 * 1024
  REQUIRE(n * cfg.experts > (int64_t(1) << 31));
  const ref::Problem p = ref::generate(cfg, n, ref::InputKind::Random, 77, DType::BF16);
  auto gpu = make_router(cfg, Device::Cuda);
  auto cpu = make_router(cfg, Device::Cpu);
  gpu->set_weights(p.w_view(), p.bias_view());
  cpu->set_weights(p.w_view(), p.bias_view());
  const DeviceX dx = upload_x(p.x_view());
  const int k = cfg.top_k;
  DeviceBuffer dw(static_cast<size_t>(n * k) * 4), di(static_cast<size_t>(n * k) * 4);
  dw.fill(kPoisonByte);
  di.fill(kPoisonByte);
  gpu->route(dx.view, TensorView::matrix(dw.data(), DType::F32, n, k, DeviceType::Cuda, 0),
             TensorView::matrix(di.data(), DType::I32, n, k, DeviceType::Cuda, 0));
  ct::device_synchronize();
  REQUIRE(dw.guards_intact());
  REQUIRE(di.guards_intact());
  const std::vector<float> gw = dw.to_host<float>();
  const std::vector<int32_t> gi = di.to_host<int32_t>();
  // Rows spread over the whole batch, the last rows (where 32-bit offsets would wrap) included.
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < n; r += 9973) rows.push_back(r);
  for (int64_t r = n - 64; r < n; ++r) rows.push_back(r);
  for (int64_t r : rows) {
    const TensorView xr = TensorView::matrix(const_cast<uint16_t*>(p.x_bf16.data()) + r * cfg.hidden,
                                             DType::BF16, 1, cfg.hidden);
    float w[8];
    int32_t ids[8];
    cpu->route(xr, TensorView::matrix(w, 1, k), TensorView::matrix(ids, 1, k));
    INFO("row " << r);
    REQUIRE(std::memcmp(ids, &gi[r * k], sizeof ids) == 0);
    REQUIRE(std::memcmp(w, &gw[r * k], sizeof w) == 0);
  }
}


TEST_CASE("device out-of-memory is an out_of_memory error and the router keeps working", "[cuda]") {
  SKIP_WITHOUT_CUDA_DEVICE();
  const RouterConfig cfg = preset("dsv4-pro");
  const ref::Problem p = ref::generate(cfg, 16, ref::InputKind::Random, 81, DType::BF16);
  auto gpu = make_router(cfg, Device::Cuda);
  gpu->set_weights(p.w_view(), p.bias_view());
  auto& cuda_router = dynamic_cast<cuda::CudaRouter&>(*gpu);
  // 2^36 rows of logits: 100 TB, more than any device has.
  try {
    cuda_router.reserve(int64_t(1) << 36);
    FAIL("no error");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.code() == ErrorCode::OutOfMemory);
  }
  auto cpu = make_router(cfg, Device::Cpu);
  cpu->set_weights(p.w_view(), p.bias_view());
  const DeviceX dx = upload_x(p.x_view());
  require_same_bits(device_route(*gpu, dx.view, Call{}), host_route(*cpu, p.x_view(), Call{}), cfg.experts,
                    cfg.top_k, "after a failed reserve");
}

#endif  // MOEROUTER_TEST_CUDA
