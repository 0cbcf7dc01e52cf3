// The register-only FMA loops behind measure_fma_peak. Each lives in its own file compiled for its
// instruction set (bench_support.cmake), and may only be called when the CPU supports that set:
// fma_peak.cpp, compiled without ISA flags, checks first. Returns a value derived from the
// accumulators so the compiler cannot drop the loop.
#pragma once

namespace moerouter::bench::detail {

// 12 independent accumulator chains: enough to hide the FMA latency (4 cycles) on two FMA ports.
inline constexpr int kFmaChains = 12;

float fma_loop_avx512(long iterations);  // kFmaChains x 16 lanes per iteration
float fma_loop_avx2(long iterations);    // kFmaChains x 8 lanes per iteration

}  // namespace moerouter::bench::detail
