// The per-row epilogue on the device, plus the small kernels around it (x staging for cuBLAS,
// non-finite and hash-table checks). The epilogue calls the very functions the CPU backend calls
// (core/include/moerouter/epilogue.hpp, __host__ __device__), and device code is built with
// --fmad=false, so given identical logits both backends write identical bits.
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "cuda_check.hpp"
#include "kernels.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/fmath.hpp"

namespace moerouter::cuda::detail {

namespace {

constexpr int kEpilogueThreads = 128;

__device__ __forceinline__ int64_t read_index(const void* p, bool i64, int64_t i) {
  return i64 ? static_cast<const int64_t*>(p)[i] : static_cast<const int32_t*>(p)[i];
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
// Warp (the default): (1) as Split; (2) one warp per row. select_topk's result is the k best experts
// under a total order (ranks_above: value, then index), so it is unique, and any way of finding it
// gives the same ids in the same order: each lane keeps its own best k of the experts e = lane
// (mod 32) with insert_ranked, then k rounds of a warp-wide ranks_above maximum pop the winners.
// Group-limited configs do the same for groups: each lane scores its groups exactly as
// select_groups does (insert_ranked of the group's sel, sum of the best two), the topk_groups best
// are merged the same way. gather_weights then runs on lane 0, unchanged.
//
// All evaluate in place: the activations overwrite the logits workspace (activate_row reads
// logits[e] before writing act[e] and never reads it again, so in place equals the CPU's separate
// buffer).
constexpr int kActivateThreads = 256;
constexpr int kWarpRows = 4;  // rows (warps) per block of the warp-per-row selection
constexpr unsigned kFullMask = 0xFFFFFFFFu;

__device__ __forceinline__ void write_row(const EpilogueArgs& a, int64_t row, const int32_t* ids,
                                          const float* weights) {
  const int k = a.params.top_k;
  for (int j = 0; j < k; ++j) {
    a.ids_out[row * k + j] = ids[j];
    a.weights_out[row * k + j] = weights[j];
  }
  if (a.counts) {  // integer counts: the order of the atomic adds cannot change the result
    for (int j = 0; j < k; ++j) {
      if (a.counts_i64)
        atomicAdd(static_cast<unsigned long long*>(a.counts) + ids[j], 1ull);
      else
        atomicAdd(static_cast<int*>(a.counts) + ids[j], 1);
    }
  }
}

__device__ __forceinline__ void hash_ids(const EpilogueArgs& a, int64_t row, int32_t* ids) {
  const int k = a.params.top_k;
  const int64_t token = read_index(a.token_ids, a.token_ids_i64, row);
  for (int j = 0; j < k; ++j)
    ids[j] = static_cast<int32_t>(read_index(a.hash_table, a.hash_table_i64, token * k + j));
}

// Selection, weights, outputs and counts of one row whose activations are in `act`.
__device__ __forceinline__ void select_row(const EpilogueArgs& a, int64_t row, const float* act) {
  int32_t ids[kMaxTopK];
  float weights[kMaxTopK];
  if (a.token_ids) {
    hash_ids(a, row, ids);
  } else {
    bool group_flags[kMaxExperts];  // select_topk's scratch: one flag per group (G <= E <= 1024)
    epilogue::select_topk(act, a.params, group_flags, ids);
  }
  epilogue::gather_weights(act, ids, a.params, weights);
  write_row(a, row, ids, weights);
}

__global__ void __launch_bounds__(kEpilogueThreads) epilogue_fused_kernel(EpilogueArgs a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= a.n) return;
  const int64_t E = a.params.experts;
  float* L = a.logits + row * E;
  if (a.logits_out) {
    float* dst = a.logits_out + row * E;
    for (int64_t e = 0; e < E; ++e) dst[e] = fmath::canonicalize(L[e]);
  }
  epilogue::activate_row(L, E, a.params.score, L);
  select_row(a, row, L);
}

// (1), sqrtsoftplus / sigmoid: one element per thread.
__global__ void __launch_bounds__(kActivateThreads) activate_elementwise_kernel(EpilogueArgs a) {
  const int64_t total = a.n * a.params.experts;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float* l = a.logits + i;
    if (a.logits_out) a.logits_out[i] = fmath::canonicalize(*l);
    epilogue::activate_row(l, 1, a.params.score, l);
  }
}

// (1), softmax: one row per thread (the row's max and sum are sequential in activate_row).
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

// Split (2): one row per thread.
__global__ void __launch_bounds__(kEpilogueThreads) select_kernel(EpilogueArgs a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= a.n) return;
  select_row(a, row, a.logits + row * a.params.experts);
}

// The best (value, id) under ranks_above among the lanes that have one; every lane gets it
// (a strict total order has one maximum, so the butterfly converges to it in all lanes).
__device__ __forceinline__ void warp_best(float& v, int32_t& id, bool& has) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const float ov = __shfl_xor_sync(kFullMask, v, offset);
    const int32_t oid = __shfl_xor_sync(kFullMask, id, offset);
    const bool oh = __shfl_xor_sync(kFullMask, static_cast<int>(has), offset) != 0;
    if (oh && (!has || epilogue::ranks_above(ov, oid, v, id))) {
      v = ov;
      id = oid;
      has = true;
    }
  }
}

// Merges the lanes' ranked lists (vals/ids, `count` entries each, ids distinct across lanes) into
// the warp's best `cap` in rank order, written to out_ids in every lane. Returns how many.
__device__ __forceinline__ int warp_merge(const float* vals, const int32_t* ids, int count, int cap,
                                          int32_t* out_ids) {
  int head = 0;
  for (int r = 0; r < cap; ++r) {
    bool has = head < count;
    float v = has ? vals[head] : 0.0f;
    int32_t id = has ? ids[head] : 0;
    warp_best(v, id, has);
    if (!has) return r;  // the same in every lane
    if (head < count && ids[head] == id) ++head;  // the winning lane pops its head
    out_ids[r] = id;
  }
  return cap;
}

// Warp (2): one warp per row; lane 0 writes the row.
__global__ void __launch_bounds__(32 * kWarpRows) select_warp_kernel(EpilogueArgs a) {
  __shared__ bool allowed_groups[kWarpRows][kMaxExperts];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpRows + warp;
  if (row >= a.n) return;  // whole warps leave together
  const epilogue::Params& p = a.params;
  const int64_t E = p.experts;
  const int k = p.top_k;
  const float* act = a.logits + row * E;
  int32_t ids[kMaxTopK];
  if (a.token_ids) {
    if (lane == 0) hash_ids(a, row, ids);
  } else {
    bool* allowed = allowed_groups[warp];
    const int64_t per_group = E / p.groups;
    if (p.groups > 1) {  // select_groups, its groups spread over the lanes
      float gv[kMaxTopK];
      int32_t gi[kMaxTopK];
      int gc = 0;
      for (int g = lane; g < p.groups; g += 32) {
        float top_vals[2];
        int32_t top_ids[2];
        int top_count = 0;
        for (int64_t j = 0; j < per_group; ++j) {
          const int64_t e = g * per_group + j;
          epilogue::insert_ranked(epilogue::selection_score(act, p.bias, e), static_cast<int32_t>(e),
                                  top_vals, top_ids, &top_count, 2);
        }
        const float score = top_count == 2 ? top_vals[0] + top_vals[1] : top_vals[0];
        allowed[g] = false;
        epilogue::insert_ranked(score, g, gv, gi, &gc, p.topk_groups);
      }
      int32_t kept[kMaxTopK];
      const int kept_count = warp_merge(gv, gi, gc, p.topk_groups, kept);
      __syncwarp();  // every lane's allowed[g] = false is in place
      if (lane == 0)
        for (int i = 0; i < kept_count; ++i) allowed[kept[i]] = true;
      __syncwarp();
    }
    float lv[kMaxTopK];
    int32_t li[kMaxTopK];
    int lc = 0;
    for (int64_t e = lane; e < E; e += 32)
      if (p.groups == 1 || allowed[e / per_group])
        epilogue::insert_ranked(epilogue::selection_score(act, p.bias, e), static_cast<int32_t>(e), lv,
                                li, &lc, k);
    warp_merge(lv, li, lc, k, ids);
  }
  if (lane == 0) {
    float weights[kMaxTopK];
    epilogue::gather_weights(act, ids, p, weights);
    write_row(a, row, ids, weights);
  }
}

std::atomic<EpilogueKernel> g_epilogue_override{EpilogueKernel::Auto};

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

void set_epilogue_override(EpilogueKernel which) { g_epilogue_override.store(which); }

EpilogueKernel epilogue(const EpilogueArgs& args, cudaStream_t stream) {
  EpilogueKernel which = g_epilogue_override.load();
  if (which == EpilogueKernel::Auto) which = EpilogueKernel::Warp;
  if (args.n <= 0) return which;
  if (which == EpilogueKernel::Fused) {
    epilogue_fused_kernel<<<blocks_for(args.n, kEpilogueThreads), kEpilogueThreads, 0, stream>>>(args);
    check_launch("epilogue_fused_kernel");
    return which;
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
  if (which == EpilogueKernel::Split) {
    select_kernel<<<blocks_for(args.n, kEpilogueThreads), kEpilogueThreads, 0, stream>>>(args);
    check_launch("select_kernel");
  } else {
    select_warp_kernel<<<blocks_for(args.n, kWarpRows), 32 * kWarpRows, 0, stream>>>(args);
    check_launch("select_warp_kernel");
  }
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
