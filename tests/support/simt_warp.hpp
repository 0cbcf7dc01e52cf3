// A host emulation of one CUDA warp, so that warp-level device code (the CUDA backend's warp
// epilogue, backends/cuda/src/epilogue_device.cuh) runs, unchanged, in the CPU test suite and in CI
// machines without a GPU.
//
// The 32 lanes are fibers (ucontext) on the calling thread. A lane runs until it reaches a
// collective (__shfl_sync, __ballot_sync, __reduce_*_sync, __syncwarp, ...), posts its value and
// hands over to the next lane; the last lane to arrive hands back to lane 0, which then sees all 32
// values. Collectives alternate between two buffers, so a lane that runs ahead to its next
// collective never overwrites values that slower lanes still have to read. Every collective must be
// reached by all 32 lanes (full-mask, warp-uniform control flow, as the code under test promises);
// run() checks that each lane passed the same number of them.
//
// Include this header before the device code: it defines the CUDA qualifiers as nothing and the
// warp intrinsics as host functions. Device intrinsics that the code under test would need beyond
// these fail to compile, which is the point.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>

namespace simt {

// Runs body() as the 32 lanes of one warp; returns when every lane has returned.
void run(const std::function<void()>& body);
int lane();  // the running lane (0..31)

// Collective: every lane posts `v` and gets all 32 posted values.
void exchange_bits(uint64_t v, uint64_t (&all)[32]);

template <class T>
T shfl(T v, int src) {
  static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
  uint64_t bits = 0, all[32];
  std::memcpy(&bits, &v, sizeof(T));
  exchange_bits(bits, all);
  T out;
  std::memcpy(&out, &all[src & 31], sizeof(T));
  return out;
}

}  // namespace simt

struct SimtThreadIdx {
  unsigned x;
};
inline SimtThreadIdx simt_thread_idx() { return {static_cast<unsigned>(simt::lane())}; }

#undef __device__
#undef __host__
#undef __global__
#undef __forceinline__
#define __device__
#define __host__
#define __global__
#define __forceinline__ inline
#define threadIdx (simt_thread_idx())

inline void __syncwarp(unsigned = 0xFFFFFFFFu) { (void)simt::shfl<int>(0, 0); }

template <class T>
T __shfl_sync(unsigned, T v, int src) {
  return simt::shfl(v, src);
}
template <class T>
T __shfl_xor_sync(unsigned, T v, int mask) {
  return simt::shfl(v, simt::lane() ^ mask);
}

inline unsigned __ballot_sync(unsigned, bool pred) {
  uint64_t all[32];
  simt::exchange_bits(pred ? 1 : 0, all);
  unsigned m = 0;
  for (int i = 0; i < 32; ++i) m |= static_cast<unsigned>(all[i] & 1) << i;
  return m;
}
inline bool __all_sync(unsigned mask, bool pred) { return __ballot_sync(mask, pred) == 0xFFFFFFFFu; }
inline bool __any_sync(unsigned mask, bool pred) { return __ballot_sync(mask, pred) != 0u; }

inline unsigned __reduce_max_sync(unsigned, unsigned v) {
  uint64_t all[32];
  simt::exchange_bits(v, all);
  unsigned m = 0;
  for (uint64_t a : all) m = a > m ? static_cast<unsigned>(a) : m;
  return m;
}
inline unsigned __reduce_min_sync(unsigned, unsigned v) {
  uint64_t all[32];
  simt::exchange_bits(v, all);
  unsigned m = 0xFFFFFFFFu;
  for (uint64_t a : all) m = a < m ? static_cast<unsigned>(a) : m;
  return m;
}

inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __ffs(unsigned v) { return __builtin_ffs(static_cast<int>(v)); }
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }

// One fiber thread: plain read-modify-write is atomic.
template <class T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
template <class T>
T atomicMax(T* p, T v) {
  const T old = *p;
  if (v > old) *p = v;
  return old;
}
