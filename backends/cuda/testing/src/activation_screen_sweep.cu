// The exhaustive check behind the activation screen (backends/cuda/src/activation_screen.cuh):
// every one of the 2^32 float logits goes through the screened and the exact (contract) activation
// on the device, and each pair is held to the bound the screened selection relies on.
#include "moerouter/cuda_testing.hpp"

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../../src/activation_screen.cuh"
#include "moerouter/epilogue.hpp"

namespace moerouter::cuda_testing {

namespace {

namespace det = moerouter::cuda::detail;

struct SweepCounters {
  unsigned long long violations;
  unsigned long long first_bad;   // smallest failing bit pattern (atomicMin), ~0 when none
  unsigned long long worst_rel;   // bits of the largest |a - a'| / max(|a'|, 2^-113) (a double >= 0)
};

// true when (exact, screened) keep the bound of activation_screen.cuh; `rel` gets the relative error.
__device__ bool within_bound(float exact, float screened, double* rel) {
  *rel = 0.0;
  if (screened != screened) return exact != exact;
  if (screened - screened != 0.0f) return exact == screened;  // +-inf: the same infinity
  if (!(exact - exact == 0.0f)) return false;                  // exact NaN or inf, screened finite
  const double err = fabs(static_cast<double>(exact) - static_cast<double>(screened));
  const double mag = fabs(static_cast<double>(screened));
  *rel = err / fmax(mag, 0x1p-113);
  return err <= static_cast<double>(det::kScreenCheckedRel) * mag + static_cast<double>(det::kScreenCheckedAbs);
}

__global__ void sweep_kernel(ScoreFn score, SweepCounters* out) {
  unsigned long long violations = 0, first_bad = ~0ull;
  double worst = 0.0;
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (1ull << 32); i += stride) {
    const float l = __uint_as_float(static_cast<uint32_t>(i));
    const float screened = det::screen_activation(l, score);
    float exact;
    epilogue::activate_row(&l, 1, score, &exact);
    double rel;
    if (!within_bound(exact, screened, &rel)) {
      ++violations;
      if (i < first_bad) first_bad = i;
    }
    worst = fmax(worst, rel);
  }
  if (violations) {
    atomicAdd(&out->violations, violations);
    atomicMin(&out->first_bad, first_bad);
  }
  atomicMax(&out->worst_rel, static_cast<unsigned long long>(__double_as_longlong(worst)));
}

void ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

}  // namespace

ScreenSweep sweep_activation_screen(ScoreFn score) {
  if (score == ScoreFn::Softmax) throw std::invalid_argument("sweep_activation_screen: softmax is never screened");
  SweepCounters init{0, ~0ull, 0};
  SweepCounters* d = nullptr;
  ok(cudaMalloc(&d, sizeof init), "cudaMalloc");
  ok(cudaMemcpy(d, &init, sizeof init, cudaMemcpyHostToDevice), "cudaMemcpy");
  int sms = 0, dev = 0;
  ok(cudaGetDevice(&dev), "cudaGetDevice");
  ok(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
  sweep_kernel<<<sms * 8, 256>>>(score, d);
  ok(cudaGetLastError(), "sweep_kernel launch");
  SweepCounters got{};
  ok(cudaMemcpy(&got, d, sizeof got, cudaMemcpyDeviceToHost), "cudaMemcpy (sweep result)");
  ok(cudaFree(d), "cudaFree");
  ScreenSweep r;
  r.checked = 1ull << 32;
  r.violations = got.violations;
  r.first_bad_bits = static_cast<uint32_t>(got.first_bad);
  std::memcpy(&r.worst_rel, &got.worst_rel, sizeof r.worst_rel);
  r.bound_rel = static_cast<double>(det::kScreenCheckedRel);
  return r;
}

}  // namespace moerouter::cuda_testing
