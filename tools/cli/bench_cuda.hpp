// `moerouter bench --device cuda`: the timing itself lives in the CUDA backend
// (moerouter/cuda.hpp, time_route), since nothing outside backends/cuda includes CUDA headers.
#pragma once
#include "cli/bench_report.hpp"

namespace moerouter::cli {

// Whether this build has the CUDA backend and the runtime sees a device (what --device auto picks).
bool cuda_bench_usable();
// Throws BackendUnavailable naming what is missing: the CUDA backend in this build, or a device.
void require_cuda_bench();
// Measures the device's ceilings (copy bandwidth, SGEMM and BF16 GEMM rates), then a row for every
// preset x N x gemm mode of the plan (threads do not apply), CUDA graphs for N <= 64.
void run_cuda_bench(const BenchPlan& plan, BenchOutput& out);

}  // namespace moerouter::cli
