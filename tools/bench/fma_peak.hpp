// This machine's FMA peak, measured with a register-only loop (no memory traffic), so benchmark
// figures can be reported as a fraction of what the cores can actually do.
#pragma once

namespace moerouter::bench {

// GFLOP/s (2 flops per lane per FMA) over `threads` OpenMP threads with the widest vector FMA
// available (AVX-512, else AVX2, else scalar).
double measure_fma_peak_gflops(int threads);

}  // namespace moerouter::bench
