// The bf16 tensor-core router in one launch (bf16_fused.hpp).
//
// Two main loops: BF16 x on sm_90 goes to the wgmma + TMA kernel (bf16_fused_wgmma.cu, same logits
// bit for bit, measured); F32 x (converted while the A fragments are built) and the test override
// bf16_fused_force_kernel(1) use the mma.sync kernel below.
//
// A block owns BM rows (64 or 128) x ALL experts (padded to NWN * 64 <= 384), so every logit of its
// rows ends up in the block and the epilogue runs right there:
//  * main loop: K in steps of 64 through a cp.async ring of `kStages` shared-memory stages (x tile
//    and W tile, 16-byte chunks XOR-swizzled by row so ldmatrix and the copies are bank-conflict
//    free). Warps form a (BM / 64) x NWN grid; each owns 64 rows x 64 experts = 4 x 8 mma.sync
//    m16n8k16 tiles (bf16 x bf16, FP32 accumulators in registers: 128 per thread).
//  * F32 x: copied as F32 into the ring (cp.async) and rounded to bf16 while the A fragments are
//    built (ld.shared.v2 + cvt.rn.bf16x2), so x is read once from device memory and never staged.
//  * epilogue: the accumulators go to shared memory (reusing the ring), and the block's warps run
//    warp_route_row (epilogue_device.cuh) on them, one row per warp: the same function as the
//    separate epilogue, so outputs match it bit for bit on the same logits.
// The logits of a row are its own tensor-core sums, independent of n and of the block shape (the
// K order is fixed: 64-wide steps, 16-wide mma steps, in ascending k), so results are batch-invariant.
#include "bf16_fused.hpp"

#include <atomic>
#include <cstdint>
#include <limits>

#include "bf16_fused_wgmma.hpp"
#include "bf16_ptx.cuh"
#include "cuda_check.hpp"
#include "epilogue_device.cuh"

namespace moerouter::cuda::detail {

namespace {

using namespace bf16ptx;

constexpr int kBK = 64;                 // K per stage: one bf16 tile row = 128 bytes = 8 chunks
constexpr int kWarpTile = 64;           // a warp's rows and experts
constexpr int kMaxFusedExperts = 384;   // 6 warps across; larger E does not fit registers/smem
constexpr int kSmemLimit = 227 * 1024;  // sm_90's opt-in shared memory per block
constexpr int kMaxStages = 4;

template <int BM, int NWN, bool XF32>
struct Tile {
  static constexpr int kWarpsM = BM / kWarpTile;
  static constexpr int kWarps = kWarpsM * NWN;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kEp = NWN * kWarpTile;               // experts padded to the warp grid
  static constexpr int kARowBytes = kBK * (XF32 ? 4 : 2);   // 128 (bf16) or 256 (f32)
  static constexpr int kABytes = BM * kARowBytes;
  static constexpr int kBBytes = kEp * kBK * 2;
  static constexpr int kStageBytes = kABytes + kBBytes;
  static constexpr int kLogitsLd = kEp + 8;  // floats; +8 spreads a warp's float2 stores over banks
  static constexpr int kLogitsBytes = BM * kLogitsLd * 4;
  static constexpr int kScratchBytes = kWarps * static_cast<int>(sizeof(WarpRowScratch));
  static constexpr int kFit = (kSmemLimit - kScratchBytes) / kStageBytes;
  static constexpr int kStages = kFit < kMaxStages ? kFit : kMaxStages;
  static constexpr int kPipeBytes =
      kStages * kStageBytes > kLogitsBytes ? kStages * kStageBytes : kLogitsBytes;
  static constexpr int kSmemBytes = kPipeBytes + kScratchBytes;
  static_assert(kStages >= 2, "the ring needs two stages");
  static_assert(kSmemBytes <= kSmemLimit, "shared memory");
};

#if !(defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900)  // as the kernel body below
// Byte offset of 16-byte chunk ch of tile row r in the ring: chunks XOR-swizzled by r % 8.
__device__ __forceinline__ uint32_t swz(int r, int ch, int row_bytes) {
  return static_cast<uint32_t>(r * row_bytes + ((ch ^ (r & 7)) << 4));
}
#endif

template <int BM, int NWN, bool XF32>
__global__ void __launch_bounds__(Tile<BM, NWN, XF32>::kThreads, 1)
    bf16_fused_kernel(const void* __restrict__ x, int64_t ldx, const uint16_t* __restrict__ w,
                      int64_t n, int experts, int hidden, EpilogueArgs epi, int phases) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
  // The sm_80 build: the ring is sized for sm_90's shared memory and bf16_fused_can_run() is false
  // on other devices, so this body is never launched there (and not compiled, to save build time).
  __trap();
#else
  using T = Tile<BM, NWN, XF32>;
  extern __shared__ __align__(128) unsigned char smem[];
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int wm = warp / NWN, wn = warp % NWN;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int ktiles = hidden / kBK;
  const uint32_t sbase = smem_addr(smem);
  constexpr int kElt = XF32 ? 4 : 2;
  constexpr int kAChunks = T::kARowBytes / 16;  // per tile row

  // One stage: the x tile (rows past n zero-filled) and the W tile (experts past E zero-filled).
  auto load_stage = [&](int slot, int kt) {
    const uint32_t a_s = sbase + slot * T::kStageBytes;
    const uint32_t b_s = a_s + T::kABytes;
    const int64_t k0 = static_cast<int64_t>(kt) * kBK;
#pragma unroll
    for (int c = tid; c < BM * kAChunks; c += T::kThreads) {
      const int r = c / kAChunks, ch = c % kAChunks;
      const bool ok = row0 + r < n;
      const char* src = static_cast<const char*>(x) + ((ok ? row0 + r : 0) * ldx + k0) * kElt + ch * 16;
      cp_async16(a_s + swz(r, ch, T::kARowBytes), src, ok);
    }
#pragma unroll
    for (int c = tid; c < T::kEp * 8; c += T::kThreads) {
      const int e = c >> 3, ch = c & 7;
      const bool ok = e < experts;
      const uint16_t* src = w + static_cast<int64_t>(ok ? e : 0) * hidden + k0 + ch * 8;
      cp_async16(b_s + swz(e, ch, 128), src, ok);
    }
  };

  float acc[4][8][4];
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 8; ++ni)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[mi][ni][c] = 0.0f;

  auto compute_stage = [&](int slot) {
    const uint32_t a_s = sbase + slot * T::kStageBytes;
    const uint32_t b_s = a_s + T::kABytes;
    const unsigned char* a_ptr = smem + slot * T::kStageBytes;
#pragma unroll
    for (int ks = 0; ks < kBK / 16; ++ks) {
      uint32_t a[4][4];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        if constexpr (!XF32) {
          // Matrices: rows 0-7 / 8-15 of k 0-7, then of k 8-15 -> a0..a3 of m16n8k16.
          const int r = wm * 64 + mi * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
          const int ch = ks * 2 + (lane >> 4);
          ldmatrix_x4(a_s + swz(r, ch, 128), a[mi][0], a[mi][1], a[mi][2], a[mi][3]);
        } else {
          // Lane (g, t) needs rows g, g + 8 and columns 2t, 2t + 1, 2t + 8, 2t + 9 of the k16 step:
          // float2 reads (4-float chunks: chunk ks * 4 + t / 2, byte offset (t & 1) * 8).
          const int g = lane >> 2, t = lane & 3;
          const int r0 = wm * 64 + mi * 16 + g, r1 = r0 + 8;
          const int ch0 = ks * 4 + (t >> 1), ch1 = ch0 + 2;
          const int off = (t & 1) * 8;
          const float2 v0 = *reinterpret_cast<const float2*>(a_ptr + swz(r0, ch0, 256) + off);
          const float2 v1 = *reinterpret_cast<const float2*>(a_ptr + swz(r1, ch0, 256) + off);
          const float2 v2 = *reinterpret_cast<const float2*>(a_ptr + swz(r0, ch1, 256) + off);
          const float2 v3 = *reinterpret_cast<const float2*>(a_ptr + swz(r1, ch1, 256) + off);
          a[mi][0] = pack_bf16x2(v0.x, v0.y);
          a[mi][1] = pack_bf16x2(v1.x, v1.y);
          a[mi][2] = pack_bf16x2(v2.x, v2.y);
          a[mi][3] = pack_bf16x2(v3.x, v3.y);
        }
      }
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        // Matrices: experts 0-7 of k 0-7, k 8-15, then experts 8-15: b0 b1 of two n8 tiles.
        const int e = wn * 64 + np * 16 + (lane & 7) + (lane >> 4) * 8;
        const int ch = ks * 2 + ((lane >> 3) & 1);
        uint32_t b0, b1, b2, b3;
        ldmatrix_x4(b_s + swz(e, ch, 128), b0, b1, b2, b3);
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) {
          mma_bf16_16816(acc[mi][2 * np], a[mi], b0, b1);
          mma_bf16_16816(acc[mi][2 * np + 1], a[mi], b2, b3);
        }
      }
    }
  };

  // The ring: stage kt lives in slot kt % kStages; kStages - 1 stages are in flight while one is
  // computed. Every iteration commits a group (empty past the end) so wait_group counts line up.
#pragma unroll 1
  for (int s = 0; s < T::kStages - 1; ++s) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }
#pragma unroll 1
  for (int kt = 0; kt < ((phases & 1) ? ktiles : 0); ++kt) {
    cp_async_wait<T::kStages - 2>();
    __syncthreads();  // stage kt visible to all; slot (kt - 1) % kStages no longer read
    const int next = kt + T::kStages - 1;
    if (next < ktiles) load_stage(next % T::kStages, next);
    cp_async_commit();
    compute_stage(kt % T::kStages);
  }
  cp_async_wait<0>();
  __syncthreads();  // the ring is free: reuse it for the logits

  // Every warp parks its accumulators (all BM rows at once, so they are dead before the epilogue
  // needs registers), then the block's warps route the rows, one row per warp at a time.
  float* logits = reinterpret_cast<float*>(smem);
  WarpRowScratch* scratch = reinterpret_cast<WarpRowScratch*>(smem + T::kPipeBytes);
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 8; ++ni) {
      float* p = logits + (wm * 64 + mi * 16 + g) * T::kLogitsLd + wn * 64 + ni * 8 + 2 * t;
      *reinterpret_cast<float2*>(p) = make_float2(acc[mi][ni][0], acc[mi][ni][1]);
      *reinterpret_cast<float2*>(p + 8 * T::kLogitsLd) = make_float2(acc[mi][ni][2], acc[mi][ni][3]);
    }
  __syncthreads();
#pragma unroll 1
  for (int r = warp; r < ((phases & 2) ? BM : 0); r += T::kWarps) {
    const int64_t row = row0 + r;
    if (row < n) warp_route_row(epi, row, logits + r * T::kLogitsLd, scratch[warp]);  // warp-uniform
  }
#endif
}

std::atomic<int> g_phases{3};

template <int BM, int NWN, bool XF32>
void launch(const FusedRouteArgs& a, cudaStream_t stream) {
  using T = Tile<BM, NWN, XF32>;
  auto* kernel = bf16_fused_kernel<BM, NWN, XF32>;
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSmemBytes),
        "cudaFuncSetAttribute(bf16_fused_kernel shared memory)");
  const auto blocks = static_cast<unsigned>((a.n + BM - 1) / BM);
  const void* w = a.w_bf16;
  kernel<<<blocks, T::kThreads, T::kSmemBytes, stream>>>(
      a.x.data, a.x.ld, static_cast<const uint16_t*>(w), a.n, static_cast<int>(a.experts),
      static_cast<int>(a.hidden), a.epi, g_phases.load());
  check_launch("bf16_fused_kernel");
}

template <int BM, bool XF32>
void launch_for_experts(const FusedRouteArgs& a, cudaStream_t stream) {
  if (a.experts <= 64) return launch<BM, 1, XF32>(a, stream);
  if (a.experts <= 128) return launch<BM, 2, XF32>(a, stream);
  if (a.experts <= 256) return launch<BM, 4, XF32>(a, stream);
  return launch<BM, 6, XF32>(a, stream);
}

std::atomic<int> g_block_rows{0};
std::atomic<int> g_kernel{0};

// Where the fused kernel would take over from cuBLAS + the separate epilogue. Measured on an H100
// (2026-11-25, .scratch/wgmma harness, BF16 x, the wgmma kernel with 2-CTA clusters): the main loop
// now beats cuBLAS (dsv4-pro N=16384: 120.7 us = 747 TF/s vs cuBLAS 125.7 us), but the in-block
// epilogue (warp_route_row on 12 warps per SM, 128 rows per block) costs 110-300 us per block,
// whatever n is, so the whole route wins only by ~2% and only when n fills exactly one wave
// (dsv4-pro N=16384: 255.6 vs 261.7 us; dsv4-flash 145.2 vs 148.8) and loses everywhere else
// (N=4096: 2.6-3.7x slower; dsv3 1.15x, qwen3-moe 1.06x at N=16384; a second, partly filled wave
// costs a whole block time again). Too thin and too n-specific to route on: supports() stays false.
constexpr int64_t kCrossoverRows = std::numeric_limits<int64_t>::max();

bool device_is_sm90() {
  int dev = 0, major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return false;
  return major == 9;
}

}  // namespace

void bf16_fused_force_block_rows(int rows) { g_block_rows.store(rows); }
void bf16_fused_debug_phases(int phases) { g_phases.store(phases); }
void bf16_fused_force_kernel(int which) { g_kernel.store(which); }

bool bf16_fused_can_run(int64_t experts, int64_t hidden, const XView& x) {
  const int64_t elt = x.bf16 ? 2 : 4;
  return experts >= 1 && experts <= kMaxFusedExperts && hidden >= kBK && hidden % kBK == 0 &&
         hidden <= (int64_t{1} << 30) && reinterpret_cast<uintptr_t>(x.data) % 16 == 0 &&
         (x.ld * elt) % 16 == 0 && device_is_sm90();
}

bool bf16_fused_supports(int64_t n, int64_t experts, int64_t hidden, const XView& x) {
  return n >= kCrossoverRows && bf16_fused_can_run(experts, hidden, x);
}

void bf16_fused_route(const FusedRouteArgs& a, cudaStream_t stream) {
  if (a.n <= 0) return;
  // The wgmma kernel (bf16_fused_wgmma.cu) wherever it can run: BF16 x, E <= 384 (TMA row
  // coordinates are int32, hence the n bound).
  const int which = g_kernel.load();
  if (which != 1 && a.n <= (int64_t{1} << 31) - 256 && bf16_wgmma_can_run(a.experts, a.hidden, a.x)) {
    bf16_wgmma_force_cluster(which == 3 ? 1 : 2);
    return bf16_wgmma_route(a, g_phases.load(), stream);
  }
  int bm = g_block_rows.load();
  if (bm != 64 && bm != 128) bm = a.n >= 128 * 100 ? 128 : 64;  // fill the SMs first
  if (bm == 128) {
    if (a.x.bf16) launch_for_experts<128, false>(a, stream);
    else launch_for_experts<128, true>(a, stream);
  } else {
    if (a.x.bf16) launch_for_experts<64, false>(a, stream);
    else launch_for_experts<64, true>(a, stream);
  }
}

}  // namespace moerouter::cuda::detail
