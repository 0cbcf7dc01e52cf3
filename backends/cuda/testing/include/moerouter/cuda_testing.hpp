// Device-memory helpers for tests that are compiled as plain C++ (no CUDA header here). Part of the
// moerouter_cuda_testing library, which only the test suite links; not installed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "moerouter/config.hpp"

namespace moerouter::cuda_testing {

bool device_present();
std::string device_name();  // e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)"

// A device allocation with guard zones of `guard` bytes on both sides, filled with kGuardByte:
// data() points past the front guard. guards_intact() tells whether anything wrote outside.
class DeviceBuffer {
 public:
  static constexpr uint8_t kGuardByte = 0xA5;
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes, size_t guard = 256);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return base_ ? static_cast<char*>(base_) + guard_ : nullptr; }
  size_t size() const { return bytes_; }
  void upload(const void* src, size_t bytes, size_t offset = 0);
  void download(void* dst, size_t bytes, size_t offset = 0) const;
  void fill(uint8_t byte);             // the interior only (synchronous)
  bool guards_intact() const;
  template <class T> std::vector<T> to_host() const {
    std::vector<T> v(bytes_ / sizeof(T));
    download(v.data(), v.size() * sizeof(T));
    return v;
  }
  template <class T> static DeviceBuffer from(const std::vector<T>& v) {
    DeviceBuffer b(v.size() * sizeof(T));
    b.upload(v.data(), v.size() * sizeof(T));
    return b;
  }

 private:
  void* base_ = nullptr;
  size_t bytes_ = 0, guard_ = 0;
};

// Streams as void* (cudaStream_t). create_stream() makes a non-blocking stream.
void* create_stream();
void destroy_stream(void* stream);
void synchronize(void* stream);
void device_synchronize();

// Stream capture into a CUDA graph, then replays.
class Graph {
 public:
  Graph() = default;
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  void begin_capture(void* stream);  // thread-local capture mode
  void end_capture();                // instantiates the graph
  void abort_capture();              // ends a capture after an exception, discarding it
  void launch(void* stream);

 private:
  void* stream_ = nullptr;
  void* graph_ = nullptr;
  void* exec_ = nullptr;
};

// Forces the canonical kernel of every CUDA router in the process: "auto" (by N), "splitk" or
// "tiled". Both kernels must give identical bits; tests use this to compare them on the same N.
void force_canonical_kernel(const std::string& which);
// Forces the epilogue version likewise: "auto", "fused", "split" or "warp" (identical bits required).
void force_epilogue_kernel(const std::string& which);

// Turns the activation screen of the standalone warp epilogue (backends/cuda/src/activation_screen.cuh)
// on or off for every later call in the process (on by default); both must give identical bits.
void force_activation_screen(bool on);
// Likewise for the register path of group-limited rows with groups of 32 experts (on by default).
void force_group_registers(bool on);
// Their current settings (so a scoped override can restore them).
bool activation_screen_on();
bool group_registers_on();
// The environment variable MOEROUTER_TEST_FRESH_PATHS=1 (=0) turns both on (off) when the test
// binary starts, so the whole [cuda] suite can run over either setting.

// The screened activation against the exact one on all 2^32 float logits (on the device).
struct ScreenSweep {
  uint64_t checked = 0;
  uint64_t violations = 0;     // logits breaking |a - a'| <= bound_rel |a'| + 2^-125 (or NaN/inf)
  uint32_t first_bad_bits = 0; // the smallest failing bit pattern when violations > 0
  double worst_rel = 0.0;      // largest |a - a'| / |a'| seen (|a'| floored at 2^-113)
  double bound_rel = 0.0;
};
ScreenSweep sweep_activation_screen(ScoreFn score);

}  // namespace moerouter::cuda_testing
