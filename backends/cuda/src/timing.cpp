// time_route and the Stream owner (cuda.hpp, "Benchmarking"). Ceilings: timing_ceilings.cpp.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "cuda_check.hpp"
#include "moerouter/cuda.hpp"
#include "moerouter/error.hpp"
#include "timing_util.hpp"

namespace moerouter::cuda {

namespace detail {

Summary summarize(std::vector<double>& s) {
  Summary r;
  if (s.empty()) return r;
  std::sort(s.begin(), s.end());
  const auto at = [&](double q) {
    const size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(s.size()))) ;
    return s[std::min(s.size() - 1, i == 0 ? 0 : i - 1)];  // nearest rank
  };
  r.median = s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]);
  r.p10 = at(0.10);
  r.p90 = at(0.90);
  return r;
}

}  // namespace detail

namespace {

using detail::check;
using detail::DeviceArray;
using detail::Event;
using detail::GraphExec;

// The rotating copies of x together exceed the L2 (50 MB on H100) by this much.
constexpr size_t kRotationBytes = size_t{100} << 20;
constexpr int kMaxGraphs = 256;      // one instantiated graph per buffer
constexpr int kMaxBuffers = 4096;
constexpr int kMaxReps = 1'000'000;  // a bound on the loop whatever min_time says
constexpr int kWarmupCalls = 3;

int rotation_count(size_t x_bytes, bool graph) {
  const size_t want = std::max<size_t>(2, (kRotationBytes + x_bytes - 1) / x_bytes);
  size_t count = std::min<size_t>(want, graph ? kMaxGraphs : kMaxBuffers);
  // Leave at least half the free memory to the router's workspace and cuBLAS.
  size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  while (count > 2 && count * x_bytes > free_bytes / 2) --count;
  return static_cast<int>(count);  // 2 even when it does not fit: the allocation then says why
}

void check_timing_args(const CudaRouter& router, const TensorView& x, const TimingOptions& o) {
  const RouterConfig& cfg = router.config();
  if (x.device != DeviceType::Cpu)
    fail_arg(ErrorCode::DeviceMismatch, "host_x", "a host tensor (time_route uploads it)", "device memory");
  if (x.ndim != 2 || x.shape[0] < 1 || x.shape[1] != cfg.hidden || !x.is_contiguous())
    fail_arg(ErrorCode::ShapeMismatch, "host_x",
             "a contiguous [N >= 1, " + std::to_string(cfg.hidden) + "] matrix", x.shape_string());
  if (x.dtype != DType::F32 && x.dtype != DType::BF16)
    fail_arg(ErrorCode::DtypeMismatch, "host_x", "float32 or bfloat16", to_string(x.dtype));
  if (!o.stream)
    fail_arg(ErrorCode::InvalidArgument, "TimingOptions::stream",
             "a stream of one's own (cuda::Stream; graph capture needs one)", "nullptr");
  if (!(o.min_time_s >= 0) || o.min_reps < 1 || o.reps < 0)
    fail_arg(ErrorCode::InvalidArgument, "TimingOptions",
             "min_time_s >= 0, min_reps >= 1, reps >= 0",
             std::to_string(o.min_time_s) + ", " + std::to_string(o.min_reps) + ", " + std::to_string(o.reps));
}

}  // namespace

Stream::Stream() {
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  stream_ = s;
}

Stream::~Stream() {
  const auto s = static_cast<cudaStream_t>(stream_);
  (void)cudaStreamSynchronize(s);
  (void)cudaStreamDestroy(s);
}

std::string device_name() {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  return prop.name;
}

TimingResult time_route(CudaRouter& router, const TensorView& host_x, GemmMode mode,
                        const TimingOptions& o) {
  check_timing_args(router, host_x, o);
  detail::DeviceGuard guard(router.device_id());
  const auto stream = static_cast<cudaStream_t>(o.stream);
  const int64_t n = host_x.shape[0], H = router.config().hidden, k = router.config().top_k;
  const size_t x_bytes = static_cast<size_t>(n * H) * dtype_size(host_x.dtype);
  const int count = rotation_count(x_bytes, o.graph);

  // Declared before the graphs: the graphs (destroyed first) read these buffers.
  DeviceArray inputs(static_cast<size_t>(count) * x_bytes, "the rotating copies of x");
  DeviceArray weights(static_cast<size_t>(n * k) * sizeof(float), "weights_out");
  DeviceArray ids(static_cast<size_t>(n * k) * sizeof(int32_t), "ids_out");
  const auto buffer = [&](int i) { return inputs.as<char>() + static_cast<size_t>(i) * x_bytes; };
  check(cudaMemcpyAsync(buffer(0), host_x.data, x_bytes, cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync(x to the device)");
  for (int i = 1; i < count; ++i)
    check(cudaMemcpyAsync(buffer(i), buffer(0), x_bytes, cudaMemcpyDeviceToDevice, stream),
          "cudaMemcpyAsync(x copies)");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(x upload)");

  const int dev = router.device_id();
  const TensorView w_out = TensorView::matrix(weights.get(), DType::F32, n, k, DeviceType::Cuda, dev);
  const TensorView i_out = TensorView::matrix(ids.get(), DType::I32, n, k, DeviceType::Cuda, dev);
  RouteOptions ro;
  ro.gemm = mode;
  ro.stream = o.stream;
  const auto route = [&](int i) {
    const TensorView x = TensorView::matrix(buffer(i), host_x.dtype, n, H, DeviceType::Cuda, dev);
    return router.route(x, w_out, i_out, ro);
  };

  router.reserve(n, o.stream);  // no allocation or synchronization inside the timed calls
  TimingResult result;
  result.input_buffers = count;
  result.graph = o.graph;
  result.kernel = route(0).kernel;  // also loads modules and cuBLAS heuristics before timing
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(first call)");

  std::vector<GraphExec> graphs;
  if (o.graph) {
    graphs.reserve(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) graphs.push_back(detail::capture_graph(stream, [&] { route(i); }));
  }
  const auto launch = [&](int i) {
    if (o.graph)
      check(cudaGraphLaunch(graphs[static_cast<size_t>(i)].get(), stream), "cudaGraphLaunch");
    else
      route(i);
  };
  for (int i = 0; i < kWarmupCalls; ++i) launch(i % count);
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(warm-up)");

  Event start, stop;
  std::vector<double> samples;
  const auto t0 = std::chrono::steady_clock::now();
  for (int rep = 0;; ++rep) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool done = o.reps > 0 ? rep >= o.reps : rep >= o.min_reps && elapsed >= o.min_time_s;
    if (done || rep >= kMaxReps) break;
    samples.push_back(detail::time_once_us(stream, start, stop, [&] { launch(rep % count); }));
  }
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(timing)");
  result.reps = static_cast<int>(samples.size());
  const detail::Summary s = detail::summarize(samples);
  result.us_median = s.median;
  result.us_p10 = s.p10;
  result.us_p90 = s.p90;
  return result;
}

namespace detail {

GraphExec capture_graph(cudaStream_t stream, const std::function<void()>& enqueue) {
  check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  cudaGraph_t graph = nullptr;
  try {
    enqueue();
  } catch (...) {
    (void)cudaStreamEndCapture(stream, &graph);
    if (graph) (void)cudaGraphDestroy(graph);
    (void)cudaGetLastError();
    throw;
  }
  check(cudaStreamEndCapture(stream, &graph), "cudaStreamEndCapture");
  cudaGraphExec_t exec = nullptr;
  const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
  (void)cudaGraphDestroy(graph);  // the executable graph is independent of it
  check(status, "cudaGraphInstantiate");
  return GraphExec(exec);
}

}  // namespace detail

}  // namespace moerouter::cuda
