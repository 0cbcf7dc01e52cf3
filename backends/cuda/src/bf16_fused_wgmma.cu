// The fused bf16 router on Hopper tensor cores (bf16_fused_wgmma.hpp).
//
// A block owns 128 rows x all experts (padded to Ep = NT * NW <= 384); blocks run in clusters of
// CL = 2 (default) that share each W tile; 3 warpgroups:
//  * warpgroup 0, the producer: one thread walks K in 64-wide stages, and for each stage waits until
//    its ring slot is free (empty mbarrier: released by the consumers of every CTA of the cluster),
//    then issues the TMA copy of its x tile (128 x 64 bf16) and of its half of the W tile (Ep / CL
//    rows x 64, multicast into both CTAs), all with the 128-byte swizzle, completing on the slot's
//    full mbarrier (expecting the whole stage). Rows past n and experts past E are TMA zeros. It
//    runs on 40 registers (setmaxnreg) so that the consumers get 232.
//  * warpgroups 1 and 2, the consumers: each owns 64 rows x Ep experts as FP32 accumulators in
//    registers (NW x NT / 2 per thread: 192 for E = 384). Per stage: wait on the full mbarrier, issue
//    4 (k16 steps) x NW wgmma m64nNTk16 reading both operands from shared memory through matrix
//    descriptors, commit, wait until the previous stage's wgmmas are done, release that slot.
//  * then the consumers park their accumulators in shared memory (reusing the ring), every
//    warpgroup moves to 160 registers, and all 12 warps run warp_route_row (epilogue_device.cuh) on
//    the 128 rows: the same function as the separate epilogue, so outputs match it bit for bit.
// The logits of a row depend only on the row (K order fixed: 64-wide stages, k16 steps ascending),
// so results are batch-invariant (independent of n and of the row's position in its block).
#include "bf16_fused_wgmma.hpp"

#include <cuda.h>  // CUtensorMap and the encode function's types (no -lcuda: entry point at run time)

#include <atomic>
#include <cstdint>
#include <mutex>

#include "bf16_wgmma_ptx.cuh"
#include "cuda_check.hpp"
#include "epilogue_device.cuh"
#include "epilogue_screened.cuh"

namespace moerouter::cuda::detail {

namespace {

constexpr int kBK = 64;          // K per stage: one 128-byte swizzled row of bf16
constexpr int kBM = 128;         // rows per block: 2 consumer warpgroups x 64
constexpr int kThreads = 384;    // producer + 2 consumer warpgroups
// [[maybe_unused]]: the sm_80 pass compiles the kernel body away.
[[maybe_unused]] constexpr int kConsumerThreads = 256;
[[maybe_unused]] constexpr int kConsumerWarps = 8;
constexpr int kWarps = 12;
constexpr int kSmemLimit = 227 * 1024;
constexpr int kMaxStages = 8;
// Registers: the CTA gets 384 x 168 at launch. Main loop: producer 40, consumers 232 (128 * 40 +
// 256 * 232 = 384 * 168); epilogue: all 12 warps at 160.
[[maybe_unused]] constexpr int kProducerRegs = 40, kConsumerRegs = 232, kEpilogueRegs = 160;

// Per-warp epilogue scratch: the list path's group flags or the screened path's candidate slots.
union FusedRowScratch {
  WarpRowScratch lists;
  ScreenScratch screen;
};

// The smallest instantiated register width (with_register_width's) with room for E experts.
constexpr int register_width_for(int experts) {
  const int slots = (experts + 31) / 32;
  return slots <= 1 ? 1 : slots <= 2 ? 2 : slots <= 4 ? 4 : slots <= 8 ? 8 : slots <= 12 ? 12 : slots <= 16 ? 16
                                                                                                  : slots <= 24 ? 24 : 32;
}

// One parked row (its logits in shared memory) by one warp: the standalone epilogue kernel's
// functions, so the bits are the same. Rows without a group limit or hash table (and not softmax)
// take its screened register path (warp_route_loaded_row: the exact activation only for experts
// that can reach the top k), J slots per lane (any J >= E / 32 gives the same result); the rest
// take warp_route_row, as before.
template <int J>
__device__ __forceinline__ void route_parked_row(const EpilogueArgs& epi, int64_t row, float* row_logits,
                                                 FusedRowScratch& scratch) {
  if (register_path_applies(epi) && epi.params.score != ScoreFn::Softmax) {
    float l[J];
    warp_load_logits<J>(row_logits, epi.params.experts, l);
    warp_route_loaded_row<J>(epi, row, l, scratch.screen);
  } else {
    warp_route_row(epi, row, row_logits, scratch.lists);
  }
}

template <int NT, int NW, int CL>
struct WgTile {
  static constexpr int kEp = NT * NW;
  static constexpr int kJ = register_width_for(kEp);  // register-path slots per lane for any E <= kEp
  static constexpr int kABytes = kBM * kBK * 2;   // 16 KB
  static constexpr int kBBytes = kEp * kBK * 2;   // NW boxes of NT rows
  static constexpr int kStageBytes = kABytes + kBBytes;
  static constexpr int kLogitsLd = kEp + 8;       // floats; +8: a warp's float2 stores hit distinct banks
  static constexpr int kLogitsBytes = kBM * kLogitsLd * 4;
  static constexpr int kScratchBytes = kWarps * static_cast<int>(sizeof(FusedRowScratch));
  static constexpr int kWRowsPerCta = kEp / CL;  // W rows each CTA of the cluster copies (multicast)
  static constexpr int kAlignSlack = 1024;        // the ring must start 1024-aligned (swizzle atoms)
  static constexpr int kBarrierBytes = 2 * kMaxStages * 8;
  static constexpr int kFit = (kSmemLimit - kAlignSlack - kScratchBytes - kBarrierBytes) / kStageBytes;
  static constexpr int kStages = kFit < kMaxStages ? kFit : kMaxStages;
  static constexpr int kPipeBytes =
      kStages * kStageBytes > kLogitsBytes ? kStages * kStageBytes : kLogitsBytes;
  static constexpr int kSmemBytes = kAlignSlack + kPipeBytes + kBarrierBytes + kScratchBytes;
  static_assert(NT % 64 == 0 && NT <= 256, "wgmma N and the TMA box height");
  static_assert(kStages >= 2, "the ring needs two stages");
  static_assert(kSmemBytes <= kSmemLimit, "shared memory");
  static_assert(kStageBytes % 1024 == 0 && kABytes % 1024 == 0 && (kWRowsPerCta * 128) % 1024 == 0,
                "swizzle atoms stay 1024-aligned");
  static_assert(CL == 1 || (CL == 2 && NW <= 2), "clusters of 1 or 2");
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// The consumer warpgroups' main loop, then their accumulators parked as logits rows in shared memory
// (reusing the ring). Warpgroup cw = warp / 4 - 1 owns rows cw * 64 ... + 63 of the block.
template <class T, int NT, int NW, int CL>
__device__ __forceinline__ void consume_and_park(uint32_t sbase, uint32_t full_bar, uint32_t empty_bar, int ktiles,
                                                 int warp, int lane, float* logits) {
  using namespace wgptx;
  const int cw = warp / 4 - 1;
  float acc[NW][NT / 2];
#pragma unroll
  for (int j = 0; j < NW; ++j)
#pragma unroll
    for (int i = 0; i < NT / 2; ++i) acc[j][i] = 0.0f;

#pragma unroll 1
  for (int kt = 0; kt < ktiles; ++kt) {
    const int s = kt % T::kStages;
    mbar_wait(full_bar + 8 * s, (kt / T::kStages) & 1);
    const uint32_t a_s = sbase + s * T::kStageBytes + cw * 64 * kBK * 2, b_s = sbase + s * T::kStageBytes + T::kABytes;
#pragma unroll
    for (int j = 0; j < NW; ++j)
#pragma unroll
      for (int i = 0; i < NT / 2; ++i) reg_fence(acc[j][i]);
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kBK / 16; ++ks)
#pragma unroll
      for (int j = 0; j < NW; ++j)
        wgmma_bf16<NT>(acc[j], desc_sw128(a_s + ks * 32), desc_sw128(b_s + j * NT * kBK * 2 + ks * 32));
    wgmma_commit();
#pragma unroll
    for (int j = 0; j < NW; ++j)
#pragma unroll
      for (int i = 0; i < NT / 2; ++i) reg_fence(acc[j][i]);
    wgmma_wait<1>();  // the previous stage's wgmmas are done: its slot may be refilled
    if (kt > 0 && lane == 0) {
      const uint32_t eb = empty_bar + 8 * ((kt - 1) % T::kStages);
      if constexpr (CL > 1) {
#pragma unroll
        for (int r = 0; r < CL; ++r) mbar_arrive_cluster(eb, r);  // every CTA that multicasts into it
      } else {
        mbar_arrive(eb);
      }
    }
  }
  wgmma_wait<0>();
#pragma unroll
  for (int j = 0; j < NW; ++j)
#pragma unroll
    for (int i = 0; i < NT / 2; ++i) reg_fence(acc[j][i]);
  named_sync(1, kConsumerThreads);  // both warpgroups are done reading the ring: reuse it

  // m64nN fragment: warp w of the warpgroup holds rows 16 w + g (and + 8), columns 8 i + 2 t (+1).
  const int g = lane / 4, t = lane % 4;
  const int r_lo = cw * 64 + (warp % 4) * 16 + g;
#pragma unroll
  for (int j = 0; j < NW; ++j)
#pragma unroll
    for (int i = 0; i < NT / 8; ++i) {
      float* p = logits + r_lo * T::kLogitsLd + j * NT + i * 8 + 2 * t;
      *reinterpret_cast<float2*>(p) = make_float2(acc[j][4 * i], acc[j][4 * i + 1]);
      *reinterpret_cast<float2*>(p + 8 * T::kLogitsLd) = make_float2(acc[j][4 * i + 2], acc[j][4 * i + 3]);
    }
}
#endif

template <int NT, int NW, int CL>
__global__ void __launch_bounds__(kThreads, 1)
    bf16_wgmma_kernel(const __grid_constant__ CUtensorMap tmap_x, const __grid_constant__ CUtensorMap tmap_w,
                      int64_t n, int hidden, EpilogueArgs epi, int phases) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using namespace wgptx;
  using T = WgTile<NT, NW, CL>;
  extern __shared__ unsigned char smem_raw[];
  // The ring (then the logits), the barriers, the epilogue scratch; 1024-aligned start.
  const uint32_t raw = smem_addr(smem_raw);
  const uint32_t pad = ((raw + 1023u) & ~1023u) - raw;
  unsigned char* smem = smem_raw + pad;
  const uint32_t sbase = raw + pad;
  const uint32_t full_bar = sbase + T::kPipeBytes;  // kStages barriers of 8 bytes
  const uint32_t empty_bar = full_bar + kMaxStages * 8;
  FusedRowScratch* scratch = reinterpret_cast<FusedRowScratch*>(smem + T::kPipeBytes + T::kBarrierBytes);

  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int wg = warp / 4;
  const int row0 = static_cast<int>(blockIdx.x) * kBM;
  const int ktiles = (phases & 1) ? hidden / kBK : 0;

  if (tid == 0) {
    for (int s = 0; s < T::kStages; ++s) {
      mbar_init(full_bar + 8 * s, 1);                   // the producer's arrive (+ the TMA bytes)
      mbar_init(empty_bar + 8 * s, kConsumerWarps * CL);  // one arrive per consumer warp of the cluster
    }
    mbar_init_fence();
  }
  if constexpr (CL > 1) cluster_sync();  // the peer's barriers exist before any multicast or remote arrive
  else __syncthreads();
  const uint32_t rank = CL > 1 ? cluster_rank() : 0;

  if (wg == 0) {  // ---- producer ----
    setmaxnreg_dec<kProducerRegs>();
    if (tid == 0) {
#pragma unroll 1
      for (int kt = 0; kt < ktiles; ++kt) {
        const int s = kt % T::kStages;
        if (kt >= T::kStages) {  // the slot's previous stage is released (in every CTA of the cluster)
          mbar_wait(empty_bar + 8 * s, ((kt / T::kStages) - 1) & 1);
        }
        const uint32_t a_s = sbase + s * T::kStageBytes, b_s = a_s + T::kABytes, fb = full_bar + 8 * s;
        mbar_arrive_expect_tx(fb, T::kStageBytes);  // own x tile + all of the W tile (half from the peer)
        tma_load_2d(a_s, &tmap_x, fb, kt * kBK, row0);
        if constexpr (CL > 1) {
          const int w0 = static_cast<int>(rank) * T::kWRowsPerCta;
          tma_load_2d_multicast(b_s + w0 * kBK * 2, &tmap_w, fb, kt * kBK, w0, static_cast<uint16_t>((1u << CL) - 1));
        } else {
#pragma unroll
          for (int j = 0; j < NW; ++j) tma_load_2d(b_s + j * NT * kBK * 2, &tmap_w, fb, kt * kBK, j * NT);
        }
      }
    }
    setmaxnreg_inc<kEpilogueRegs>();  // waits until the consumers have given theirs back
  } else {  // ---- consumers ----
    setmaxnreg_inc<kConsumerRegs>();
    consume_and_park<T, NT, NW, CL>(sbase, full_bar, empty_bar, ktiles, warp, lane, reinterpret_cast<float*>(smem));
    setmaxnreg_dec<kEpilogueRegs>();
  }
  __syncthreads();  // every row's logits are parked

  float* logits = reinterpret_cast<float*>(smem);
#pragma unroll 1
  for (int r = warp; r < ((phases & 2) ? kBM : 0); r += kWarps) {
    const int64_t row = row0 + r;
    if (row < n) route_parked_row<T::kJ>(epi, row, logits + r * T::kLogitsLd, scratch[warp]);  // warp-uniform
  }
  if constexpr (CL > 1) cluster_sync();  // the peer may still arrive on our barriers until here
#else
  // Not the sm_90a pass: bf16_wgmma_can_run() is only asked on an sm_90 device, so never launched.
  __trap();
#endif
}
// ---- tensor maps -------------------------------------------------------------------------------------
using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                 const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                 CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

EncodeTiled encode_fn() {
  static EncodeTiled fn = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    check(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q),
          "cudaGetDriverEntryPointByVersion(cuTensorMapEncodeTiled)");
    if (q == cudaDriverEntryPointSuccess) fn = reinterpret_cast<EncodeTiled>(p);
  });
  if (!fn) check(cudaErrorNotSupported, "cuTensorMapEncodeTiled entry point");
  return fn;
}

// A [rows, cols] bf16 matrix (row stride ld elements) read in boxes of box_rows x 64 columns with the
// 128-byte swizzle; out-of-range elements read as zeros.
CUtensorMap make_map(const void* base, int64_t rows, int64_t cols, int64_t ld, int box_rows) {
  CUtensorMap m;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ld) * 2};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(kBK), static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t elem[2] = {1, 1};
  const CUresult r = encode_fn()(&m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<void*>(base), dims, strides,
                                 box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                 CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) check(cudaErrorInvalidValue, "cuTensorMapEncodeTiled");
  return m;
}

template <int NT, int NW, int CL>
void launch(const FusedRouteArgs& a, int phases, cudaStream_t stream) {
  using T = WgTile<NT, NW, CL>;
  auto* kernel = bf16_wgmma_kernel<NT, NW, CL>;
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSmemBytes),
        "cudaFuncSetAttribute(bf16_wgmma_kernel shared memory)");
  const CUtensorMap mx = make_map(a.x.data, a.n, a.hidden, a.x.ld, kBM);
  const CUtensorMap mw = make_map(a.w_bf16, a.experts, a.hidden, a.hidden, CL > 1 ? T::kWRowsPerCta : NT);
  const int64_t tiles = (a.n + kBM - 1) / kBM;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(static_cast<unsigned>((tiles + CL - 1) / CL * CL));  // whole clusters (spare rows: TMA zeros)
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = T::kSmemBytes;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = CL;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  check(cudaLaunchKernelEx(&cfg, kernel, mx, mw, a.n, static_cast<int>(a.hidden), a.epi, phases),
        "cudaLaunchKernelEx(bf16_wgmma_kernel)");
  check_launch("bf16_wgmma_kernel");
}

template <int CL>
void route_cluster(const FusedRouteArgs& a, int phases, cudaStream_t stream) {
  if (a.experts <= 64) return launch<64, 1, CL>(a, phases, stream);
  if (a.experts <= 128) return launch<128, 1, CL>(a, phases, stream);
  if (a.experts <= 192) return launch<192, 1, CL>(a, phases, stream);
  if (a.experts <= 256) return launch<256, 1, CL>(a, phases, stream);
  return launch<192, 2, CL>(a, phases, stream);
}

std::atomic<int> g_cluster{2};

}  // namespace

bool bf16_wgmma_can_run(int64_t experts, int64_t hidden, const XView& x) {
  return x.bf16 && experts >= 1 && experts <= kWgmmaMaxExperts && hidden >= kBK && hidden % kBK == 0 &&
         hidden <= (int64_t{1} << 30) && reinterpret_cast<uintptr_t>(x.data) % 16 == 0 && (x.ld * 2) % 16 == 0;
}

void bf16_wgmma_force_cluster(int ctas) { g_cluster.store(ctas == 1 ? 1 : 2); }

void bf16_wgmma_route(const FusedRouteArgs& a, int phases, cudaStream_t stream) {
  if (a.n <= 0) return;
  if (g_cluster.load() == 1) return route_cluster<1>(a, phases, stream);
  route_cluster<2>(a, phases, stream);
}

}  // namespace moerouter::cuda::detail
