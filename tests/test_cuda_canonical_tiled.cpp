// The pipelined tiled canonical kernel (backends/cuda/src/canonical_tiled.cu) against the CPU
// backend, bit for bit: shapes chosen so that every block tile the GPU picks by (N, E) runs, with
// E not a multiple of any tile, a short last chunk (H % 64 != 0, H % 4 == 0), bf16 x, strided x and
// the unaligned fallback; then batch invariance across the tile choices (the same rows computed in
// batches that pick 64x64, 128x64, 128x96 and 128x128 tiles give the same bits).
//
// Plain C++: device memory through moerouter_cuda_testing. Without a device every test says
// "skipped: no CUDA device" and returns.
#include "support/catch.hpp"

#if !defined(MOEROUTER_TEST_CUDA)

TEST_CASE("CUDA canonical tiled kernel", "[cuda]") {
  WARN("skipped: CUDA backend not built (no CUDA compiler at configure time)");
}

#else

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "moerouter/cuda_testing.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/registry.hpp"

using namespace moerouter;
namespace ct = moerouter::cuda_testing;
namespace ref = moerouter::reference;

namespace {

struct Routed {
  std::vector<float> weights, logits;
  std::vector<int32_t> ids;
  std::string kernel;  // RouteStats::kernel of the call
};

// One route with logits out; outputs poisoned (0xFF: a NaN no backend writes) beforehand.
Routed route_host(Router& r, const TensorView& x) {
  const int64_t n = x.shape[0], E = r.config().experts;
  const int k = r.config().top_k;
  Routed o;
  o.weights.resize(static_cast<size_t>(n * k));
  o.ids.resize(static_cast<size_t>(n * k));
  o.logits.resize(static_cast<size_t>(n * E));
  std::memset(o.weights.data(), 0xFF, o.weights.size() * 4);
  std::memset(o.ids.data(), 0xFF, o.ids.size() * 4);
  std::memset(o.logits.data(), 0xFF, o.logits.size() * 4);
  RouteOptions opt;
  opt.logits_out = TensorView::matrix(o.logits.data(), DType::F32, n, E);
  r.route(x, TensorView::matrix(o.weights.data(), DType::F32, n, k),
          TensorView::matrix(o.ids.data(), DType::I32, n, k), opt);
  return o;
}

Routed route_device(Router& r, const TensorView& x) {
  const int64_t n = x.shape[0], E = r.config().experts;
  const int k = r.config().top_k;
  ct::DeviceBuffer w(static_cast<size_t>(n * k) * 4), ids(static_cast<size_t>(n * k) * 4),
      logits(static_cast<size_t>(n * E) * 4);
  for (ct::DeviceBuffer* b : {&w, &ids, &logits}) b->fill(0xFF);
  RouteOptions opt;
  opt.logits_out = TensorView::matrix(logits.data(), DType::F32, n, E, DeviceType::Cuda, 0);
  const RouteStats stats = r.route(x, TensorView::matrix(w.data(), DType::F32, n, k, DeviceType::Cuda, 0),
                                   TensorView::matrix(ids.data(), DType::I32, n, k, DeviceType::Cuda, 0), opt);
  ct::device_synchronize();
  REQUIRE(w.guards_intact());
  REQUIRE(ids.guards_intact());
  REQUIRE(logits.guards_intact());
  return {w.to_host<float>(), logits.to_host<float>(), ids.to_host<int32_t>(), stats.kernel};
}

// x on the device with row stride ld (the gap filled with 0xFF bytes) and `offset` bytes of
// misalignment (0 or 2: 2 pushes x off 16-byte alignment, so the generic kernel must take over).
struct DeviceX {
  ct::DeviceBuffer buf;
  TensorView view;
};
DeviceX upload(const TensorView& host, int64_t ld, size_t offset = 0) {
  const int64_t n = host.shape[0], H = host.shape[1];
  const size_t es = dtype_size(host.dtype);
  std::vector<char> padded(offset + static_cast<size_t>(n * ld) * es, static_cast<char>(0xFF));
  for (int64_t r = 0; r < n; ++r)
    std::memcpy(padded.data() + offset + r * ld * es, static_cast<const char*>(host.data) + r * H * es, H * es);
  DeviceX d;
  d.buf = ct::DeviceBuffer(padded.size());
  d.buf.upload(padded.data(), padded.size());
  d.view = TensorView::matrix(static_cast<char*>(d.buf.data()) + offset, host.dtype, n, H, DeviceType::Cuda, 0);
  d.view.strides[0] = ld;
  return d;
}

template <class T>
int64_t first_diff(const std::vector<T>& a, const std::vector<T>& b, size_t from = 0) {
  if (a.size() + from > b.size()) return -2;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[from + i], sizeof(T)) != 0) return static_cast<int64_t>(i);
  return -1;
}

// got == rows [r0, r0 + n) of want, bit for bit.
void require_rows(const Routed& got, const Routed& want, int64_t r0, int64_t E, int k, const std::string& what) {
  INFO(what);
  CHECK(first_diff(got.logits, want.logits, static_cast<size_t>(r0 * E)) == -1);
  CHECK(first_diff(got.ids, want.ids, static_cast<size_t>(r0 * k)) == -1);
  CHECK(first_diff(got.weights, want.weights, static_cast<size_t>(r0 * k)) == -1);
}

RouterConfig config(int64_t H, int64_t E, int k) {
  RouterConfig c;
  c.hidden = H;
  c.experts = E;
  c.top_k = k;
  c.score = ScoreFn::SqrtSoftplus;
  return c;
}

TensorView rows_of(const TensorView& x, int64_t r0, int64_t n) {
  TensorView v = x;
  v.data = static_cast<char*>(x.data) + r0 * x.strides[0] * static_cast<int64_t>(dtype_size(x.dtype));
  v.shape[0] = n;
  return v;
}

}  // namespace

TEST_CASE("canonical tiled CUDA kernel equals the CPU on odd shapes, bf16, strided and unaligned x",
          "[cuda][canonical][tiled]") {
  if (!ct::device_present()) {
    WARN("skipped: no CUDA device");
    return;
  }
  struct Shape {
    int64_t H, E;
    int k;
  };
  // H = 100: one full chunk and a 36-element one; 7172: a 4-element last chunk; 4104: H % 8 == 0
  // with a short chunk (bf16 fast path); 7170: H % 4 != 0 (generic kernel). E = 8 / 100 / 1000: no
  // tile divides them.
  const Shape shapes[] = {{100, 8, 2}, {7172, 384, 6}, {4104, 256, 8}, {512, 1000, 8}, {7170, 100, 4}};
  uint64_t seed = 900;
  for (const Shape& s : shapes) {
    const RouterConfig cfg = config(s.H, s.E, s.k);
    auto cpu = make_router(cfg, Device::Cpu);
    auto gpu = make_router(cfg, Device::Cuda);
    for (int64_t n : {65, 1000, 4097})
      for (DType dtype : {DType::F32, DType::BF16})
        for (ref::InputKind kind : {ref::InputKind::Random, ref::InputKind::TieHeavy, ref::InputKind::Adversarial}) {
          if (n == 4097 && kind != ref::InputKind::Random) continue;  // the big batch once per dtype
          const ref::Problem p = ref::generate(cfg, n, kind, ++seed, dtype, true);
          cpu->set_weights(p.w_view(), p.bias_view());
          gpu->set_weights(p.w_view(), p.bias_view());
          const Routed want = route_host(*cpu, p.x_view());
          const std::string what = "H=" + std::to_string(s.H) + " E=" + std::to_string(s.E) + " n=" +
                                   std::to_string(n) + " " + to_string(dtype) + " " + ref::to_string(kind);
          const DeviceX dense = upload(p.x_view(), s.H);
          require_rows(route_device(*gpu, dense.view), want, 0, s.E, s.k, what + " dense");
          if (n == 1000 && kind == ref::InputKind::Random) {
            const DeviceX strided = upload(p.x_view(), s.H + 8);  // still 16-byte aligned rows
            require_rows(route_device(*gpu, strided.view), want, 0, s.E, s.k, what + " ld = H + 8");
            const DeviceX odd = upload(p.x_view(), s.H + 1);  // unaligned rows: the generic kernel
            require_rows(route_device(*gpu, odd.view), want, 0, s.E, s.k, what + " ld = H + 1");
            // Base pointer one element past a 16-byte boundary (still element-aligned, which the
            // router requires): the fast kernel declines, the generic one runs.
            const int64_t shift = static_cast<int64_t>(dtype_size(dtype));
            const DeviceX shifted = upload(p.x_view(), s.H, shift);
            require_rows(route_device(*gpu, shifted.view), want, 0, s.E, s.k,
                         what + " base + " + std::to_string(shift) + " bytes");
          }
        }
  }
}

TEST_CASE("canonical tiled CUDA kernel is batch invariant across block tiles (dsv4-pro and dsv3 shapes)",
          "[cuda][canonical][tiled]") {
  if (!ct::device_present()) {
    WARN("skipped: no CUDA device");
    return;
  }
  // N = 16384 (128x128 tiles on an H100), 4096 (128x96 for E = 384, 128x64 for E = 256),
  // 1000 (64x64), 65 and 1 (tiled above the split-K range, split-K below): every window of rows must
  // reproduce the full batch's bits, and the full batch the CPU's on a slice.
  for (const auto& [H, E] : {std::pair<int64_t, int64_t>{7168, 384}, {7168, 256}}) {
    const RouterConfig cfg = config(H, E, 8);
    constexpr int64_t kRows = 16384;
    const ref::Problem p = ref::generate(cfg, kRows, ref::InputKind::Random, 77 + E, DType::F32, true);
    auto gpu = make_router(cfg, Device::Cuda);
    auto cpu = make_router(cfg, Device::Cpu);
    gpu->set_weights(p.w_view(), p.bias_view());
    cpu->set_weights(p.w_view(), p.bias_view());
    const DeviceX dx = upload(p.x_view(), H);
    const Routed full = route_device(*gpu, dx.view);
    const Routed head = route_host(*cpu, rows_of(p.x_view(), 0, 2048));
    require_rows(head, full, 0, E, 8, "CPU rows [0, 2048) vs the GPU's N = 16384 batch");
    const std::pair<int64_t, int64_t> windows[] = {{0, 4096}, {12288, 4096}, {5, 4097}, {0, 1000},
                                                   {9999, 1000}, {16319, 65}, {3, 1}, {16383, 1}};
    for (const auto& [r0, n] : windows) {
      const Routed part = route_device(*gpu, rows_of(dx.view, r0, n));
      require_rows(part, full, r0, E, 8,
                   "E=" + std::to_string(E) + " rows [" + std::to_string(r0) + ", +" + std::to_string(n) + ")");
    }
  }
}

TEST_CASE("the canonical split (chunks over segments, later chunk sums added in order) equals the CPU",
          "[cuda][canonical][tiled]") {
  if (!ct::device_present()) {
    WARN("skipped: no CUDA device");
    return;
  }
  // Mid-size batches whose tiles alone leave most SMs idle, so the router splits the chunks over
  // segments (the kernel name says so: a test that silently ran the plain kernel would prove
  // nothing about the split). H = 7172: the short 4-element last chunk lands in the last segment
  // (f32 x; with bf16 x, H % 8 != 0 and the plain tiled kernel must run instead); E = 100: no tile
  // divides it; bf16 x; adversarial rows (NaN, inf, huge, denormal inputs).
  struct Case {
    int64_t H, E;
    int k;
    int64_t n;
  };
  const Case cases[] = {{7168, 384, 6, 65}, {7168, 384, 6, 256}, {7168, 256, 8, 300},
                        {7172, 100, 4, 777},  {4104, 256, 8, 129}, {512, 8, 2, 2000}};
  uint64_t seed = 4400;
  int split_runs = 0;
  for (const Case& c : cases) {
    const RouterConfig cfg = config(c.H, c.E, c.k);
    auto cpu = make_router(cfg, Device::Cpu);
    auto gpu = make_router(cfg, Device::Cuda);
    for (DType dtype : {DType::F32, DType::BF16})
      for (ref::InputKind kind : {ref::InputKind::Random, ref::InputKind::Adversarial}) {
        const ref::Problem p = ref::generate(cfg, c.n, kind, ++seed, dtype, true);
        cpu->set_weights(p.w_view(), p.bias_view());
        gpu->set_weights(p.w_view(), p.bias_view());
        const std::string what = "H=" + std::to_string(c.H) + " E=" + std::to_string(c.E) + " n=" +
                                 std::to_string(c.n) + " " + to_string(dtype) + " " + ref::to_string(kind);
        const DeviceX dense = upload(p.x_view(), c.H);
        const Routed got = route_device(*gpu, dense.view);
        INFO(what << " ran " << got.kernel);
        // The fast kernels copy 16 bytes at a time: rows of bf16 x need H % 8 == 0 (f32: H % 4), or
        // the plain tiled kernel runs (H = 7172 with bf16 x: the split must not be attempted).
        const bool fast_applies = c.H % (dtype == DType::BF16 ? 8 : 4) == 0;
        CHECK(got.kernel == (fast_applies ? "cuda-canonical-tiled-split" : "cuda-canonical-tiled"));
        split_runs += got.kernel == "cuda-canonical-tiled-split";
        require_rows(got, route_host(*cpu, p.x_view()), 0, c.E, c.k, what);
      }
  }
  std::printf("canonical split: %d calls split, all bit-identical to the CPU\n", split_runs);
}

#endif
