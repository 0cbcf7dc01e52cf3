#include "workspace.hpp"

#include <algorithm>
#include <string>

#include "canonical_tiled.hpp"
#include "moerouter/config.hpp"
#include "moerouter/error.hpp"

namespace moerouter::cuda::detail {

namespace {

// cuBLAS's documented recommendation: 32 MiB of workspace on Hopper, 4 MiB elsewhere. Setting our
// own keeps cuBLAS from allocating (graph capture) and fixes its algorithm choice per handle.
size_t cublas_workspace_bytes() {
  int device = 0, major = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
        "cudaDeviceGetAttribute(ComputeCapabilityMajor)");
  return (major >= 9 ? 32u : 4u) << 20;
}

}  // namespace

Workspace::~Workspace() {
  if (cublas) (void)cublasDestroy(cublas);
}

bool Workspace::fits(int64_t n, bool need_stage, bool need_cublas) const {
  return flag.get() && layout.get() && counters.get() && rows >= n && (!need_stage || stage_rows >= std::min(n, kStageRows)) &&
         (!need_cublas || cublas);
}

void Workspace::ensure(int64_t n, bool need_stage, bool need_cublas, bool want_split, bool capturing,
                       int64_t experts, int64_t hidden) {
  const bool add_split = want_split && !canonical_split.get() && !capturing;
  if (fits(n, need_stage, need_cublas) && !add_split) return;
  if (capturing)
    fail_arg(ErrorCode::InvalidArgument, "route() during CUDA graph capture",
             "a workspace reserved beforehand for this stream (CudaRouter::reserve(" +
                 std::to_string(n) + ", stream)); allocation cannot be captured",
             "a workspace of " + std::to_string(rows) + " rows" +
                 (need_cublas && !cublas ? " without a cuBLAS handle" : ""));
  // Earlier calls on this stream may still read the buffers about to be replaced.
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (before growing the workspace)");
  if (!flag.get()) flag = DeviceArray(sizeof(unsigned long long), "the error flag");
  if (!counters.get()) {
    counters = DeviceArray(4 * sizeof(unsigned long long), "the workspace counters");
    check(cudaMemset(counters.get(), 0, 4 * sizeof(unsigned long long)), "cudaMemset(workspace counters)");
  }
  if (!layout.get()) layout = DeviceArray((kMaxExperts + 1) * sizeof(int64_t), "the dispatch-layout scratch");
  if (add_split) canonical_split = DeviceArray(kCanonicalSplitBytes, "the canonical split's chunk sums");
  if (rows < n) {
    logits = DeviceArray();  // free first: the old and new buffers need not coexist
    rows = 0;                // until the new buffer exists (an allocation failure leaves none)
    logits = DeviceArray(static_cast<size_t>(n) * experts * sizeof(float), "the logits workspace");
    rows = n;
  }
  const int64_t want_stage = std::min(n, kStageRows);
  if (need_stage && stage_rows < want_stage) {
    staging = DeviceArray();
    stage_rows = 0;
    staging = DeviceArray(static_cast<size_t>(want_stage) * hidden * sizeof(float), "the x staging buffer");
    stage_rows = want_stage;
  }
  if (need_cublas && !cublas) {
    const size_t bytes = cublas_workspace_bytes();
    cublas_workspace = DeviceArray(bytes, "the cuBLAS workspace");
    cublasHandle_t h = nullptr;
    check(cublasCreate(&h), "cublasCreate");
    try {
      // cublasSetStream resets the workspace to cuBLAS's own pool, so the stream goes first.
      check(cublasSetStream(h, stream), "cublasSetStream");
      check(cublasSetWorkspace(h, cublas_workspace.get(), bytes), "cublasSetWorkspace");
      // DEFAULT_MATH: FP32 GEMMs stay FP32 (TF32 only with CUBLAS_TF32_TENSOR_OP_MATH, never set
      // here); bf16 GEMMs may use tensor cores with FP32 accumulation. Atomics stay off (cuBLAS's
      // default), so results are run-to-run reproducible.
      check(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
      check(cublasSetAtomicsMode(h, CUBLAS_ATOMICS_NOT_ALLOWED), "cublasSetAtomicsMode");
    } catch (...) {
      (void)cublasDestroy(h);
      throw;
    }
    cublas = h;
  }
}

Workspace& WorkspacePool::get(cudaStream_t stream) {
  const Key key{stream, stream == cudaStreamPerThread ? std::this_thread::get_id() : std::thread::id()};
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = map_[key];
  if (!slot) {
    slot = std::make_unique<Workspace>();
    slot->stream = stream;
  }
  return *slot;
}

void WorkspacePool::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  map_.clear();
}

}  // namespace moerouter::cuda::detail
