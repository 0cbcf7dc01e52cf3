#include "moerouter/bf16_fused_testing.hpp"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "../../src/bf16_fused.hpp"

namespace moerouter::cuda_testing {

namespace det = moerouter::cuda::detail;

bool bf16_fused_can_run(int64_t experts, int64_t hidden, const void* x, bool x_bf16, int64_t ld) {
  return det::bf16_fused_can_run(experts, hidden, det::XView{x, x_bf16, ld});
}

void run_bf16_fused(const Bf16FusedCall& c) {
  det::FusedRouteArgs a{};
  a.x = det::XView{c.x, c.x_bf16, c.ld};
  a.n = c.n;
  a.experts = c.experts;
  a.hidden = c.hidden;
  a.w_f32 = nullptr;
  a.w_bf16 = c.w_bf16;
  a.epi.logits = nullptr;  // the fused kernel keeps the logits in shared memory
  a.epi.n = c.n;
  a.epi.params = c.params;
  a.epi.weights_out = c.weights_out;
  a.epi.ids_out = c.ids_out;
  a.epi.logits_out = c.logits_out;
  a.epi.counts = c.counts;
  a.epi.counts_i64 = false;
  a.epi.nonfinite = c.nonfinite;
  // As the router sets them: the screened register path on by default (MOEROUTER_TEST_FRESH_PATHS=0
  // turns both off, so the exact paths are covered too).
  a.epi.screen = det::activation_screen_on();
  a.epi.group_registers = det::group_registers_on();
  a.grid_counter = nullptr;
  // block_rows 64 / 128 pins the mma.sync kernel with that block; 0 leaves the choice to the route
  // (the wgmma kernel for BF16 x on sm_90).
  det::bf16_fused_force_block_rows(c.block_rows);
  det::bf16_fused_force_kernel(c.block_rows != 0 ? 1 : 0);
  det::bf16_fused_route(a, nullptr);
  det::bf16_fused_force_block_rows(0);
  det::bf16_fused_force_kernel(0);
  const cudaError_t s = cudaDeviceSynchronize();
  if (s != cudaSuccess)
    throw std::runtime_error(std::string("run_bf16_fused: ") + cudaGetErrorString(s));
}

}  // namespace moerouter::cuda_testing
