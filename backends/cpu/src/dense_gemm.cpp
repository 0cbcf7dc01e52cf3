#include "dense_gemm.hpp"

#include <algorithm>

#include <Eigen/Core>
#include <omp.h>

namespace moerouter::cpu {

void dense_gemm(const std::vector<float>& w_rows, int64_t experts, int64_t hidden, const float* x,
                int64_t ldx, int64_t n, float* logits, int threads) {
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Strided = Eigen::Map<const RowMajor, 0, Eigen::OuterStride<>>;
  const Eigen::Map<const RowMajor> W(w_rows.data(), experts, hidden);
  if (n <= 0) return;
  // N = 1 (decode): split experts across threads instead, so both cores stream half of W each.
  if (n < threads) {
    const int64_t per = (experts + threads - 1) / threads;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; ++t) {
      const int64_t e0 = t * per, e1 = std::min(experts, e0 + per);
      if (e0 >= e1) continue;
      for (int64_t i = 0; i < n; ++i) {
        Eigen::Map<Eigen::RowVectorXf> out(logits + i * experts + e0, e1 - e0);
        const Eigen::Map<const Eigen::RowVectorXf> xi(x + i * ldx, hidden);
        out.noalias() = xi * W.middleRows(e0, e1 - e0).transpose();
      }
    }
    return;
  }
  const int64_t per = (n + threads - 1) / threads;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    const int64_t r0 = t * per, r1 = std::min(n, r0 + per);
    if (r0 >= r1) continue;
    const Strided X(x + r0 * ldx, r1 - r0, hidden, Eigen::OuterStride<>(ldx));
    Eigen::Map<RowMajor> L(logits + r0 * experts, r1 - r0, experts);
    L.noalias() = X * W.transpose();
  }
}

}  // namespace moerouter::cpu
