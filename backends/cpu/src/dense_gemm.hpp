// fp32 / bf16 modes: logits through Eigen's GEMM (fast, not bit-canonical; judged against the
// float64 oracle with the near-tie bound instead, DESIGN.md §2).
#pragma once
#include <cstdint>
#include <vector>

namespace moerouter::cpu {

// logits [n, E] = x [n, H] (row stride ldx) · w_rowsᵀ, w_rows [E, H]. Rows are split over `threads`
// OpenMP threads, each running a single-threaded Eigen product, so Eigen's own threading can never
// disagree with the thread count the caller asked for.
void dense_gemm(const std::vector<float>& w_rows, int64_t experts, int64_t hidden, const float* x,
                int64_t ldx, int64_t n, float* logits, int threads);

}  // namespace moerouter::cpu
