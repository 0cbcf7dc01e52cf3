// Compiled without ISA flags: this file only dispatches and times. The loops are in
// fma_loop_avx512.cpp / fma_loop_avx2.cpp, each called only when the CPU has its instruction set.
#include "fma_peak.hpp"

#include <algorithm>
#include <chrono>

#include <omp.h>

#include "fma_loops.hpp"

namespace moerouter::bench {

namespace {

using Loop = float (*)(long);

// One run: every thread warms up (clocks ramp up under a vector load), meets the others at a
// barrier, then runs the loop; the slowest thread's time stands for the whole team, so the
// figure is what `threads` cores sustain together, not a sum of separately lucky cores.
double run_gflops(Loop loop, int lanes, int threads, long iterations) {
  double slowest = 0;
  float sink = 0;
#pragma omp parallel num_threads(threads) reduction(max : slowest) reduction(+ : sink)
  {
    sink += loop(iterations / 10);
#pragma omp barrier
    const auto t0 = std::chrono::steady_clock::now();
    sink += loop(iterations);
    slowest = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  volatile float keep = sink;  // the loops' results are used
  (void)keep;
  const double flops = 2.0 * detail::kFmaChains * lanes * static_cast<double>(iterations) * threads;
  return slowest > 0 ? flops / slowest / 1e9 : 0.0;
}

}  // namespace

int resolve_threads(int threads) { return threads > 0 ? threads : omp_get_max_threads(); }

FmaPeak measure_fma_peak(int threads) {
  FmaPeak peak;
  peak.threads = resolve_threads(threads);
  Loop loop = nullptr;
  int lanes = 0;
#if defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_supports("avx512f")) {
    loop = detail::fma_loop_avx512, lanes = 16, peak.isa = "avx512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    loop = detail::fma_loop_avx2, lanes = 8, peak.isa = "avx2";
  }
#endif
  if (!loop) {
    peak.isa = "none";
    return peak;
  }
  // About 40 ms per run at 3 GHz; the best of three shrugs off a run disturbed by other processes.
  const long iterations = 10'000'000;
  for (int run = 0; run < 3; ++run)
    peak.gflops = std::max(peak.gflops, run_gflops(loop, lanes, peak.threads, iterations));
  return peak;
}

double measure_fma_peak_gflops(int threads) { return measure_fma_peak(threads).gflops; }

}  // namespace moerouter::bench
