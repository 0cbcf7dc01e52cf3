// The per-row epilogue on the device, plus the small kernels around it (x staging for cuBLAS,
// non-finite and hash-table checks). The epilogue calls the very functions the CPU backend calls
// (core/include/moerouter/epilogue.hpp, __host__ __device__), and device code is built with
// --fmad=false, so given identical logits both backends write identical bits.
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "cuda_check.hpp"
#include "per_device_cache.hpp"
#include "kernels.hpp"
#include "epilogue_device.cuh"
#include "epilogue_screened.cuh"
#include "moerouter/epilogue.hpp"
#include "moerouter/fmath.hpp"

namespace moerouter::cuda::detail {

namespace {

constexpr int kEpilogueThreads = 128;

__device__ __forceinline__ int64_t read_index(const void* p, bool i64, int64_t i) {
  return epilogue_read_index(p, i64, i);
}

// Three versions of the epilogue, identical in every bit (tests/test_cuda.cpp holds each to the
// CPU epilogue run on the same logits):
//
// Fused: one row per thread does everything (activate_row, select_topk, gather_weights) — the
// shared functions exactly as the CPU calls them. The reference; slow, because a row's
// transcendental work and its scan over E experts run serially in one thread.
//
// Split: (1) activations in parallel: for sqrtsoftplus and sigmoid one thread per element calling
// activate_row on that single element (the per-element function is all activate_row does for
// them); softmax needs the whole row (max, compensated sum), so one thread per row calls
// activate_row itself. (2) One row per thread runs select_topk and gather_weights.
//
// Warp (the default): one warp per row runs warp_route_row (epilogue_device.cuh): activations
// spread over the lanes, then the warp-wide selection. The fused routers call the same function.
//
// All evaluate in place: the activations overwrite the logits workspace (activate_row reads
// logits[e] before writing act[e] and never reads it again, so in place equals the CPU's separate
// buffer).
constexpr int kActivateThreads = 256;
constexpr int kWarpRows = 4;  // rows (warps) per block of the warp-per-row epilogue

// Non-finite count of one row by one thread (Fused and Split; Warp counts in warp_activate_row).
__device__ __forceinline__ void count_row_if_nonfinite(const EpilogueArgs& a, int64_t row, const float* L) {
  if (a.nonfinite && !epilogue::row_is_finite(L, a.params.experts)) {
    atomicAdd(a.nonfinite, 1ull);
    atomicMax(a.nonfinite + 1, ~static_cast<unsigned long long>(row));
  }
}

// Selection, weights, outputs and counts of one row whose activations are in `act`.
__device__ __forceinline__ void select_row(const EpilogueArgs& a, int64_t row, const float* act) {
  int32_t ids[kMaxTopK];
  float weights[kMaxTopK];
  if (a.token_ids) {
    epilogue_hash_ids(a, row, ids);
  } else {
    bool group_flags[kMaxExperts];  // select_topk's scratch: one flag per group (G <= E <= 1024)
    epilogue::select_topk(act, a.params, group_flags, ids);
  }
  epilogue::gather_weights(act, ids, a.params, weights);
  epilogue_write_row(a, row, ids, weights);
}

__global__ void __launch_bounds__(kEpilogueThreads) epilogue_fused_kernel(EpilogueArgs a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= a.n) return;
  const int64_t E = a.params.experts;
  float* L = a.logits + row * E;
  count_row_if_nonfinite(a, row, L);
  if (a.logits_out) {
    float* dst = a.logits_out + row * E;
    for (int64_t e = 0; e < E; ++e) dst[e] = fmath::canonicalize(L[e]);
  }
  epilogue::activate_row(L, E, a.params.score, L);
  select_row(a, row, L);
}

// Split (1), sqrtsoftplus / sigmoid: one element per thread.
__global__ void __launch_bounds__(kActivateThreads) activate_elementwise_kernel(EpilogueArgs a) {
  const int64_t total = a.n * a.params.experts;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float* l = a.logits + i;
    if (a.logits_out) a.logits_out[i] = fmath::canonicalize(*l);
    epilogue::activate_row(l, 1, a.params.score, l);
  }
}

// Split (1), softmax: one row per thread (the row's max and sum are sequential in activate_row).
__global__ void __launch_bounds__(kEpilogueThreads) activate_rows_kernel(EpilogueArgs a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= a.n) return;
  const int64_t E = a.params.experts;
  float* L = a.logits + row * E;
  if (a.logits_out) {
    float* dst = a.logits_out + row * E;
    for (int64_t e = 0; e < E; ++e) dst[e] = fmath::canonicalize(L[e]);
  }
  epilogue::activate_row(L, E, a.params.score, L);
}

// Split (0): non-finite counts, before the activations overwrite the logits.
__global__ void __launch_bounds__(kEpilogueThreads) count_nonfinite_kernel(EpilogueArgs a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= a.n) return;
  count_row_if_nonfinite(a, row, a.logits + row * a.params.experts);
}

// Split (2): one row per thread.
__global__ void __launch_bounds__(kEpilogueThreads) select_kernel(EpilogueArgs a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= a.n) return;
  select_row(a, row, a.logits + row * a.params.experts);
}

// Warp: one warp per row does the whole epilogue.
__global__ void __launch_bounds__(32 * kWarpRows) route_rows_warp_kernel(EpilogueArgs a) {
  __shared__ WarpRowScratch scratch[kWarpRows];
  const int warp = threadIdx.x / 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpRows + warp;
  if (row >= a.n) return;  // whole warps leave together
  warp_route_row(a, row, a.logits + row * a.params.experts, scratch[warp]);
}

// The same for the register path (register_path_applies, group_register_path_applies) with J experts
// per lane, without the Fresh paths: one instance per J, so each holds only its own path's registers
// (the all-in-one kernel needs 168 and spills, which costs occupancy in this latency-bound loop).
template <int J>
__global__ void __launch_bounds__(32 * kWarpRows) route_rows_registers_kernel(EpilogueArgs a) {
  const int warp = threadIdx.x / 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpRows + warp;
  if (row >= a.n) return;  // whole warps leave together
  warp_route_row_registers<J>(a, row, a.logits + row * a.params.experts, false);
}

// With the Fresh paths (screen, group slots): resident warps, several rows each, the next row's
// logits loaded during this one's work (warp_route_rows_prefetched). Softmax rows keep the per-row
// function (their activation needs the whole row in one lane).
template <int J>
__global__ void __launch_bounds__(32 * kWarpRows) route_rows_fresh_kernel(EpilogueArgs a) {
  __shared__ ScreenScratch scratch[kWarpRows];
  const int warp = threadIdx.x / 32;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kWarpRows + warp;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarpRows;
  if (a.params.score == ScoreFn::Softmax) {
    for (int64_t row = first; row < a.n; row += stride)
      warp_route_row_registers<J, true>(a, row, a.logits + row * a.params.experts, false);
    return;
  }
  warp_route_rows_prefetched<J>(a, first, stride, scratch[warp]);
}

// Blocks of route_rows_fresh_kernel<J> that stay resident on the current device: its SM count times
// the blocks an SM holds. Queried once per device and J (attribute queries are not free per call).
template <int J>
unsigned fresh_kernel_resident_blocks() {
  static PerDeviceCache<unsigned> cache;
  return cache.get([](int device) {
    int sms = 0, per_sm = 0;
    check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute(SM count)");
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, route_rows_fresh_kernel<J>, 32 * kWarpRows, 0),
          "cudaOccupancyMaxActiveBlocksPerMultiprocessor(route_rows_fresh_kernel)");
    return static_cast<unsigned>(std::max(1, sms) * std::max(1, per_sm));
  });
}

// The register-path instance for E experts (with_register_width); the Fresh instance when the
// screen or the group register path is on.
void launch_route_rows_registers(const EpilogueArgs& a, cudaStream_t stream) {
  const int64_t blocks_needed = (a.n + kWarpRows - 1) / kWarpRows;
  with_register_width(a.params.experts, [&](auto width) {
    constexpr int J = decltype(width)::value;
    if (a.screen || a.group_registers) {
      const unsigned grid = static_cast<unsigned>(std::min<int64_t>(blocks_needed, fresh_kernel_resident_blocks<J>()));
      route_rows_fresh_kernel<J><<<grid, 32 * kWarpRows, 0, stream>>>(a);
      check_launch("route_rows_fresh_kernel");
    } else {
      route_rows_registers_kernel<J><<<static_cast<unsigned>(blocks_needed), 32 * kWarpRows, 0, stream>>>(a);
      check_launch("route_rows_registers_kernel");
    }
  });
}

std::atomic<EpilogueKernel> g_epilogue_override{EpilogueKernel::Auto};
// Both on by default: same bits as the exact paths by construction (README "Design notes"), checked
// against the CPU on the GPU by the [cuda] suite, which runs again with both off
// (MOEROUTER_TEST_FRESH_PATHS=0) so the exact paths stay covered.
std::atomic<bool> g_activation_screen{true};
std::atomic<bool> g_group_registers{true};

__global__ void nonfinite_kernel(const float* logits, int64_t n, int64_t E,
                                 unsigned long long* first_bad) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= n) return;
  if (!epilogue::row_is_finite(logits + row * E, E))
    atomicMin(first_bad, static_cast<unsigned long long>(row));
}

__global__ void hash_check_kernel(const void* token_ids, bool token_i64, const void* table,
                                  bool table_i64, int64_t vocab, int64_t n, int k, int64_t E,
                                  unsigned long long* first_bad) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= n) return;
  const int64_t t = read_index(token_ids, token_i64, row);
  bool bad = t < 0 || t >= vocab;
  for (int j = 0; j < k && !bad; ++j) {
    const int64_t e = read_index(table, table_i64, t * k + j);
    bad = e < 0 || e >= E;
  }
  if (bad) atomicMin(first_bad, static_cast<unsigned long long>(row));
}

// Same rounding as core's float_to_bf16 (tensor.cpp): nearest even, NaN kept quiet.
__device__ __forceinline__ uint16_t to_bf16(float f) {
  const uint32_t u = __float_as_uint(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  const uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

template <class In, bool ToBf16>
__global__ void stage_kernel(const In* x, int64_t ld, int64_t rows, int64_t H, void* out) {
  const int64_t total = rows * H;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / H, c = i % H;
    float v;
    if constexpr (sizeof(In) == 2)
      v = __uint_as_float(static_cast<uint32_t>(x[r * ld + c]) << 16);
    else
      v = x[r * ld + c];
    if constexpr (ToBf16)
      static_cast<uint16_t*>(out)[i] = to_bf16(v);
    else
      static_cast<float*>(out)[i] = v;
  }
}

unsigned blocks_for(int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace

void set_activation_screen(bool on) { g_activation_screen.store(on); }
bool activation_screen_on() { return g_activation_screen.load(); }
void set_group_registers(bool on) { g_group_registers.store(on); }
bool group_registers_on() { return g_group_registers.load(); }
void set_epilogue_override(EpilogueKernel which) { g_epilogue_override.store(which); }
bool epilogue_overridden() { return g_epilogue_override.load() != EpilogueKernel::Auto; }

EpilogueKernel epilogue(const EpilogueArgs& args, cudaStream_t stream) {
  EpilogueKernel which = g_epilogue_override.load();
  if (which == EpilogueKernel::Auto) which = EpilogueKernel::Warp;
  if (args.n <= 0) return which;
  if (which == EpilogueKernel::Fused) {
    epilogue_fused_kernel<<<blocks_for(args.n, kEpilogueThreads), kEpilogueThreads, 0, stream>>>(args);
    check_launch("epilogue_fused_kernel");
    return which;
  }
  if (which == EpilogueKernel::Warp) {
    if (register_path_applies(args) || group_register_path_applies(args)) {
      launch_route_rows_registers(args, stream);
      return which;
    }
    route_rows_warp_kernel<<<blocks_for(args.n, kWarpRows), 32 * kWarpRows, 0, stream>>>(args);
    check_launch("route_rows_warp_kernel");
    return which;
  }
  if (args.nonfinite) {
    count_nonfinite_kernel<<<blocks_for(args.n, kEpilogueThreads), kEpilogueThreads, 0, stream>>>(args);
    check_launch("count_nonfinite_kernel");
  }
  if (args.params.score == ScoreFn::Softmax) {
    activate_rows_kernel<<<blocks_for(args.n, kEpilogueThreads), kEpilogueThreads, 0, stream>>>(args);
    check_launch("activate_rows_kernel");
  } else {
    const int64_t elements = args.n * args.params.experts;
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(blocks_for(elements, kActivateThreads), 4096));
    activate_elementwise_kernel<<<grid, kActivateThreads, 0, stream>>>(args);
    check_launch("activate_elementwise_kernel");
  }
  select_kernel<<<blocks_for(args.n, kEpilogueThreads), kEpilogueThreads, 0, stream>>>(args);
  check_launch("select_kernel");
  return which;
}

void find_nonfinite_row(const float* logits, int64_t n, int64_t experts,
                        unsigned long long* first_bad, cudaStream_t stream) {
  if (n <= 0) return;
  nonfinite_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(logits, n, experts, first_bad);
  check_launch("nonfinite_kernel");
}

void find_bad_hash_row(const void* token_ids, bool token_ids_i64, const void* hash_table,
                       bool hash_table_i64, int64_t vocab, int64_t n, int top_k, int64_t experts,
                       unsigned long long* first_bad, cudaStream_t stream) {
  if (n <= 0) return;
  hash_check_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(token_ids, token_ids_i64, hash_table,
                                                            hash_table_i64, vocab, n, top_k, experts,
                                                            first_bad);
  check_launch("hash_check_kernel");
}

void stage_x(XView x, int64_t r0, int64_t rows, int64_t hidden, bool to_bf16, void* out,
             cudaStream_t stream) {
  if (rows <= 0) return;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(blocks_for(rows * hidden, 256), 8192));
  if (x.bf16) {
    const auto* p = static_cast<const uint16_t*>(x.data) + r0 * x.ld;
    if (to_bf16)
      stage_kernel<uint16_t, true><<<grid, 256, 0, stream>>>(p, x.ld, rows, hidden, out);
    else
      stage_kernel<uint16_t, false><<<grid, 256, 0, stream>>>(p, x.ld, rows, hidden, out);
  } else {
    const auto* p = static_cast<const float*>(x.data) + r0 * x.ld;
    if (to_bf16)
      stage_kernel<float, true><<<grid, 256, 0, stream>>>(p, x.ld, rows, hidden, out);
    else
      stage_kernel<float, false><<<grid, 256, 0, stream>>>(p, x.ld, rows, hidden, out);
  }
  check_launch("stage_kernel");
}

}  // namespace moerouter::cuda::detail
