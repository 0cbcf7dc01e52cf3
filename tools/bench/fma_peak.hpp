// This machine's FMA peak, measured with a register-only loop (no memory traffic), so benchmark
// figures can be reported as a fraction of what the cores can actually do. Used by the Google
// Benchmark binary (tools/bench) and by `moerouter bench` (library moerouter_bench_support).
#pragma once

namespace moerouter::bench {

struct FmaPeak {
  double gflops = 0;      // 2 flops per lane per FMA, summed over the threads; 0 = not measured
  int threads = 0;        // the thread count it was measured with (0 resolved to OpenMP's default)
  const char* isa = "";   // "avx512", "avx2" or "none" (no vector FMA on this CPU: gflops = 0)
};

// The best of a few runs of the widest vector FMA loop this CPU has (AVX-512, else AVX2+FMA) on
// `threads` OpenMP threads (0 = OpenMP's default). Takes about a tenth of a second.
FmaPeak measure_fma_peak(int threads);

// measure_fma_peak(threads).gflops.
double measure_fma_peak_gflops(int threads);

// `threads`, or OpenMP's default thread count when it is 0 (what route() uses for threads = 0).
int resolve_threads(int threads);

}  // namespace moerouter::bench
