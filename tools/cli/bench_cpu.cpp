#include "cli/bench_cpu.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fma_peak.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/registry.hpp"

namespace moerouter::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "cpu";
}

struct Timing {
  double median = 0, p10 = 0, p90 = 0;
  int64_t reps = 0;
  std::string kernel;
};

// Nearest-rank percentile of sorted samples.
double percentile(const std::vector<double>& sorted, double q) {
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

Timing time_route(Router& router, const std::vector<TensorView>& inputs, GemmMode mode, int threads,
                  double min_time_s) {
  const int64_t n = inputs[0].shape[0], k = router.config().top_k;
  std::vector<float> weights(static_cast<size_t>(n * k));
  std::vector<int32_t> ids(static_cast<size_t>(n * k));
  RouteOptions opt;
  opt.gemm = mode;
  opt.threads = threads;
  size_t next = 0;  // alternates the input sets, so no set stays hot in cache by repetition alone
  const auto call = [&] {
    const TensorView& x = inputs[next++ % inputs.size()];
    return router.route(x, TensorView::matrix(weights.data(), n, k), TensorView::matrix(ids.data(), n, k), opt);
  };

  Timing t;
  // Warm-up: every input set once (thread pools, packed panels, page faults), then until a tenth
  // of the timing budget has passed, so clocks and caches settle.
  const auto w0 = Clock::now();
  t.kernel = call().kernel;
  for (size_t i = 1; i < inputs.size() || seconds_since(w0) < 0.1 * min_time_s; ++i) call();

  std::vector<double> samples;
  const auto t0 = Clock::now();
  while (samples.size() < 3 || seconds_since(t0) < min_time_s) {
    const auto c0 = Clock::now();
    call();
    samples.push_back(seconds_since(c0) * 1e6);
  }
  std::sort(samples.begin(), samples.end());
  const size_t m = samples.size();
  t.median = m % 2 ? samples[m / 2] : 0.5 * (samples[m / 2 - 1] + samples[m / 2]);
  t.p10 = percentile(samples, 0.10);
  t.p90 = percentile(samples, 0.90);
  t.reps = static_cast<int64_t>(m);
  return t;
}

}  // namespace

void run_cpu_bench(const BenchPlan& plan, BenchOutput& out) {
  const std::string model = cpu_model();
  // The peak at every thread count the rows use, measured before them.
  std::map<int, bench::FmaPeak> peaks;
  for (int t : plan.threads) {
    const int resolved = bench::resolve_threads(t);
    if (!peaks.count(resolved)) peaks[resolved] = bench::measure_fma_peak(resolved);
  }
  std::string header = "cpu: " + model + "; FMA peak (register loop, " + peaks.begin()->second.isa + "):";
  for (const auto& [threads, peak] : peaks) {
    char buf[96];
    std::snprintf(buf, sizeof buf, " %.1f GFLOP/s at %d thread%s;", peak.gflops, threads, threads == 1 ? "" : "s");
    header += buf;
  }
  out.device_header(header + " floor = FLOPs / peak");

  for (const auto& [name, cfg] : plan.presets) {
    std::unique_ptr<Router> router = make_router(cfg, Device::Cpu);
    bool weights_set = false;
    for (int64_t n : plan.ns) {
      // 2n rows: rows [0, n) and [n, 2n) are the two input sets. W does not depend on n
      // (generate.hpp), so the weights set once serve every n.
      reference::Problem p = reference::generate(cfg, 2 * n, reference::InputKind::Random, plan.seed, DType::BF16);
      std::vector<float>().swap(p.x);  // only the bf16 copy is routed
      if (!weights_set) {
        router->set_weights(p.w_view(), p.bias_view());
        weights_set = true;
      }
      const TensorView all = p.x_view();
      const auto rows = [&](int64_t r0) {
        return TensorView::matrix(static_cast<uint16_t*>(all.data) + r0 * cfg.hidden, DType::BF16, n, cfg.hidden);
      };
      const std::vector<TensorView> inputs{rows(0), rows(n)};
      for (GemmMode mode : plan.modes)
        for (int threads : plan.threads) {
          const int resolved = bench::resolve_threads(threads);
          const bench::FmaPeak& peak = peaks.at(resolved);
          const Timing t = time_route(*router, inputs, mode, resolved, plan.min_time_s);
          BenchRow r;
          r.device = "cpu";
          r.device_name = model;
          r.preset = name;
          r.gemm = mode;
          r.n = n;
          r.hidden = cfg.hidden;
          r.experts = cfg.experts;
          r.top_k = cfg.top_k;
          r.threads = resolved;
          r.us_median = t.median;
          r.us_p10 = t.p10;
          r.us_p90 = t.p90;
          r.reps = t.reps;
          r.flops = route_flops(cfg, n);
          r.bytes = route_bytes(cfg, n);
          r.floor_us = peak.gflops > 0 ? r.flops / (peak.gflops * 1e3) : 0;
          r.floor_bound = "fma";
          r.kernel = t.kernel;
          r.peak_gflops = peak.gflops;
          r.peak_isa = peak.isa;
          out.add(r);
        }
    }
  }
}

}  // namespace moerouter::cli
