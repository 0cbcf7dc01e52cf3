#include "cublas_gemm.hpp"

#include <algorithm>
#include <cstdint>

namespace moerouter::cuda::detail {

namespace {

// cuBLAS sizes are int; one call handles at most this many rows.
constexpr int64_t kMaxGemmRows = int64_t{1} << 24;

// Row-major logits [rows, E] = x [rows, H] (row stride ldx) · W [E, H]ᵀ is, in cuBLAS's column-major
// terms, C (E x rows, ld E) = op(A) · B with A = W seen as H x E (ld H) transposed and B = x seen as
// H x rows (ld ldx).
void gemm(cublasHandle_t h, cudaDataType_t in_type, const void* w, const void* x, int64_t ldx,
          int64_t rows, int64_t experts, int64_t hidden, float* logits) {
  const float one = 1.0f, zero = 0.0f;
  if (in_type == CUDA_R_32F) {
    check(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(experts), static_cast<int>(rows),
                      static_cast<int>(hidden), &one, static_cast<const float*>(w),
                      static_cast<int>(hidden), static_cast<const float*>(x), static_cast<int>(ldx),
                      &zero, logits, static_cast<int>(experts)),
          "cublasSgemm");
  } else {
    check(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(experts), static_cast<int>(rows),
                       static_cast<int>(hidden), &one, w, CUDA_R_16BF, static_cast<int>(hidden), x,
                       CUDA_R_16BF, static_cast<int>(ldx), &zero, logits, CUDA_R_32F,
                       static_cast<int>(experts), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx(bf16 x bf16 -> f32, FP32 accumulation)");
  }
}

// x already in the GEMM's input type: straight from the caller's buffer. Otherwise convert
// kStageRows rows at a time into the staging buffer (stream order keeps reuse safe).
void run(Workspace& ws, XView x, bool x_native, bool to_bf16, cudaDataType_t type, const void* w,
         int64_t n, int64_t experts, int64_t hidden, float* logits, cudaStream_t stream) {
  const size_t in_size = x.bf16 ? 2 : 4;
  const int64_t block = x_native ? kMaxGemmRows : kStageRows;
  for (int64_t r0 = 0; r0 < n; r0 += block) {
    const int64_t rows = std::min(block, n - r0);
    if (x_native) {
      const auto* xr = static_cast<const char*>(x.data) + static_cast<size_t>(r0 * x.ld) * in_size;
      gemm(ws.cublas, type, w, xr, x.ld, rows, experts, hidden, logits + r0 * experts);
    } else {
      stage_x(x, r0, rows, hidden, to_bf16, ws.staging.get(), stream);
      gemm(ws.cublas, type, w, ws.staging.get(), hidden, rows, experts, hidden, logits + r0 * experts);
    }
  }
}

}  // namespace

void sgemm_logits(Workspace& ws, XView x, const float* w_f32, int64_t n, int64_t experts,
                  int64_t hidden, float* logits, cudaStream_t stream) {
  run(ws, x, !x.bf16, false, CUDA_R_32F, w_f32, n, experts, hidden, logits, stream);
}

void bf16_gemm_logits(Workspace& ws, XView x, const uint16_t* w_bf16, int64_t n, int64_t experts,
                      int64_t hidden, float* logits, cudaStream_t stream) {
  run(ws, x, x.bf16, true, CUDA_R_16BF, w_bf16, n, experts, hidden, logits, stream);
}

}  // namespace moerouter::cuda::detail
