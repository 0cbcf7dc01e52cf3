// fp32 and bf16 modes: logits through cuBLAS (fast, not bit-canonical; judged against the float64
// oracle with the near-tie bound instead, DESIGN.md §2).
#pragma once
#include <cstdint>

#include "kernels.hpp"
#include "workspace.hpp"

namespace moerouter::cuda::detail {

// logits [n, E] = x · Wᵀ with FP32 inputs (w_f32 [E, H]) and FP32 accumulation (SGEMM, never
// TF32). BF16 x is widened exactly into the workspace's staging buffer first.
void sgemm_logits(Workspace& ws, XView x, const float* w_f32, int64_t n, int64_t experts,
                  int64_t hidden, float* logits, cudaStream_t stream);

// logits [n, E] = bf16(x) · bf16(W)ᵀ, FP32 accumulation (tensor cores). F32 x is rounded to bf16
// (nearest even) into the staging buffer first.
void bf16_gemm_logits(Workspace& ws, XView x, const uint16_t* w_bf16, int64_t n, int64_t experts,
                      int64_t hidden, float* logits, cudaStream_t stream);

}  // namespace moerouter::cuda::detail
