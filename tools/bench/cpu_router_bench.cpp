// Google Benchmark: the CPU router over presets x N x gemm mode x threads. Counters: GFLOP/s and the
// fraction of this machine's FMA peak (measured in the same binary, same thread count).
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fma_peak.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/registry.hpp"

using namespace moerouter;

namespace {

double peak_gflops(int threads) {
  static std::map<int, double> cache;
  auto it = cache.find(threads);
  if (it == cache.end()) it = cache.emplace(threads, bench::measure_fma_peak_gflops(threads)).first;
  return it->second;
}

// Weights as a checkpoint has them (bf16), inputs bf16 random (never zeros), one router per preset.
struct Setup {
  reference::Problem problem;
  std::unique_ptr<Router> router;
};

Setup& setup_for(const std::string& preset_name, int64_t n) {
  static std::map<std::pair<std::string, int64_t>, Setup> cache;
  auto key = std::make_pair(preset_name, n);
  auto it = cache.find(key);
  if (it == cache.end()) {
    Setup s;
    s.problem = reference::generate(preset(preset_name), n, reference::InputKind::Random, 7, DType::BF16);
    s.router = make_router(s.problem.cfg, Device::Cpu);
    s.router->set_weights(s.problem.w_view(), s.problem.bias_view());
    it = cache.emplace(key, std::move(s)).first;
  }
  return it->second;
}

void BM_FmaPeak(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  double g = 0;
  for (auto _ : state) g = bench::measure_fma_peak_gflops(threads);
  state.counters["GFLOPs"] = g;
}

void BM_Route(benchmark::State& state, std::string preset_name, GemmMode mode) {
  const int64_t n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  Setup& s = setup_for(preset_name, n);
  const RouterConfig& c = s.problem.cfg;
  std::vector<float> weights(static_cast<size_t>(n * c.top_k));
  std::vector<int32_t> ids(static_cast<size_t>(n * c.top_k));
  RouteOptions opt;
  opt.gemm = mode;
  opt.threads = threads;
  for (auto _ : state) {
    s.router->route(s.problem.x_view(), TensorView::matrix(weights.data(), n, c.top_k),
                    TensorView::matrix(ids.data(), n, c.top_k), opt);
    benchmark::DoNotOptimize(ids.data());
  }
  const double flops = 2.0 * n * c.hidden * c.experts;
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  const double peak = peak_gflops(threads);
  state.counters["peak_GFLOPs"] = peak;
  state.SetLabel(std::string(to_string(mode)));
}

void register_all() {
  benchmark::RegisterBenchmark("fma_peak", BM_FmaPeak)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond);
  for (const char* p : {"dsv4-flash", "dsv4-pro", "dsv3"})
    for (GemmMode m : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16}) {
      auto* b = benchmark::RegisterBenchmark((std::string("route/") + p + "/" + to_string(m)).c_str(), BM_Route,
                                            std::string(p), m);
      for (int64_t n : {1, 16, 256, 1024, 4096})
        for (int t : {1, 2}) b->Args({n, t});
      b->ArgNames({"n", "threads"})->Unit(benchmark::kMicrosecond)->MinTime(0.5)->UseRealTime();
    }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
