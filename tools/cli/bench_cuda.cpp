// Compiled with MOEROUTER_WITH_CUDA=1 when the CUDA backend is built (tools/CMakeLists.txt);
// without it every entry point says so.
#include "cli/bench_cuda.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "moerouter/error.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/registry.hpp"
#if defined(MOEROUTER_WITH_CUDA)
#include "moerouter/cuda.hpp"
#endif

namespace moerouter::cli {

#if defined(MOEROUTER_WITH_CUDA)

// Decode sizes: launches dominate, so they are timed as CUDA graph replays (as an engine runs them).
constexpr int64_t kGraphMaxRows = 64;

bool cuda_bench_usable() { return cuda::device_present(); }

void require_cuda_bench() {
  if (!cuda::device_present())
    fail_arg(ErrorCode::BackendUnavailable, "--device", "a usable CUDA device",
             "cuda, but the CUDA runtime found none");
}

void run_cuda_bench(const BenchPlan& plan, BenchOutput& out) {
  require_cuda_bench();
  const std::string name = cuda::device_name();
  const double bw = cuda::measure_copy_bandwidth_gbs();
  const double sgemm = cuda::measure_sgemm_tflops();
  const double bf16 = cuda::measure_bf16_gemm_tflops();
  const double launch = cuda::measure_graph_launch_us();
  char header[384];
  std::snprintf(header, sizeof header,
                "cuda: %s; copy %.0f GB/s, SGEMM %.1f TFLOP/s, BF16 GEMM %.0f TFLOP/s, graph of an empty "
                "kernel %.2f us; floor = max(bytes / copy, FLOPs / GEMM rate of the mode)",
                name.c_str(), bw, sgemm, bf16, launch);
  out.device_header(header);

  const cuda::Stream stream;  // declared before the routers: it must outlive them (cuda.hpp)
  for (const auto& [preset_name, cfg] : plan.presets) {
    std::unique_ptr<Router> router = make_router(cfg, Device::Cuda);
    auto* cuda_router = dynamic_cast<cuda::CudaRouter*>(router.get());
    if (!cuda_router) fail(ErrorCode::Internal, "make_router(cuda) returned a non-CUDA router");
    bool weights_set = false;
    for (int64_t n : plan.ns) {
      // One input set: time_route rotates device copies of it past the L2. Both copies are kept:
      // fp32 mode is given float32 x (its natural input), the other modes bf16 x.
      reference::Problem p = reference::generate(cfg, n, reference::InputKind::Random, plan.seed, DType::BF16);
      if (!weights_set) {  // W does not depend on n (generate.hpp)
        router->set_weights(p.w_view(), p.bias_view());
        weights_set = true;
      }
      // cuBLAS alone on this shape, once per (n, input type), the reference of the targets.
      std::optional<double> sgemm_alone, bf16_alone;
      for (GemmMode mode : plan.modes) {
        const bool f32_x = mode == GemmMode::Fp32;
        const TensorView x = f32_x ? TensorView::matrix(p.x.data(), DType::F32, n, cfg.hidden)
                                   : p.x_view();
        cuda::TimingOptions opt;
        opt.stream = stream.get();
        opt.graph = n <= kGraphMaxRows;
        opt.min_time_s = plan.min_time_s;
        const cuda::TimingResult t = cuda::time_route(*cuda_router, x, mode, opt);
        std::optional<double>& alone = mode == GemmMode::Bf16 ? bf16_alone : sgemm_alone;
        if (!alone)
          alone = cuda::time_gemm_alone_us(n, cfg.experts, cfg.hidden, mode == GemmMode::Bf16, stream.get(),
                                           std::min(plan.min_time_s, 0.2));
        BenchRow r;
        r.device = "cuda";
        r.device_name = name;
        r.preset = preset_name;
        r.gemm = mode;
        r.n = n;
        r.hidden = cfg.hidden;
        r.experts = cfg.experts;
        r.top_k = cfg.top_k;
        r.us_median = t.us_median;
        r.us_p10 = t.us_p10;
        r.us_p90 = t.us_p90;
        r.reps = t.reps;
        r.flops = route_flops(cfg, n);
        r.x_dtype = f32_x ? "float32" : "bf16";
        r.bytes = route_bytes(cfg, n, f32_x ? 4 : 2);
        r.gemm_alone_us = alone;
        // canonical and fp32 are FP32 FFMA/SGEMM work; bf16 runs on tensor cores.
        const double rate_tflops = mode == GemmMode::Bf16 ? bf16 : sgemm;
        const double bytes_us = bw > 0 ? r.bytes / (bw * 1e3) : 0;
        const double flops_us = rate_tflops > 0 ? r.flops / (rate_tflops * 1e6) : 0;
        r.floor_us = std::max(bytes_us, flops_us);
        r.floor_bound = bytes_us >= flops_us ? "bytes" : "flops";
        r.kernel = t.kernel;
        r.bw_gbs = bw;
        r.sgemm_tflops = sgemm;
        r.bf16_tflops = bf16;
        r.graph_launch_us = launch;
        r.graph = t.graph;
        r.input_buffers = t.input_buffers;
        out.add(r);
      }
    }
  }
}

#else  // no CUDA backend in this build

bool cuda_bench_usable() { return false; }

void require_cuda_bench() {
  fail_arg(ErrorCode::BackendUnavailable, "--device",
           "a build with the CUDA backend (configure with -DMOEROUTER_CUDA=ON and nvcc)",
           "cuda, but this moerouter was built without it");
}

void run_cuda_bench(const BenchPlan&, BenchOutput&) { require_cuda_bench(); }

#endif

}  // namespace moerouter::cli
