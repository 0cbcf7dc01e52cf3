// `moerouter bench --device cpu`: wall-clock timing of the CPU router against this machine's FMA
// peak, measured in the same process (tools/bench/fma_peak.hpp).
#pragma once
#include "cli/bench_report.hpp"

namespace moerouter::cli {

// Rows for every preset x N x gemm mode x thread count of the plan. Per row: warm-up, then calls
// timed one by one until min_time_s has passed (at least 3), alternating between two input sets
// (random bf16 rows from reference::generate, never zeros); median, p10, p90.
void run_cpu_bench(const BenchPlan& plan, BenchOutput& out);

}  // namespace moerouter::cli
