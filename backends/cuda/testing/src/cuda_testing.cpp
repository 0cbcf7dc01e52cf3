#include "moerouter/cuda_testing.hpp"

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../../src/kernels.hpp"

namespace moerouter::cuda_testing {

namespace {
void ok(cudaError_t s, const char* what) {
  if (s != cudaSuccess)
    throw std::runtime_error(std::string("cuda_testing: ") + what + ": " + cudaGetErrorString(s));
}
}  // namespace

bool device_present() {
  int n = 0;
  const cudaError_t s = cudaGetDeviceCount(&n);
  if (s != cudaSuccess) (void)cudaGetLastError();
  return s == cudaSuccess && n > 0;
}

std::string device_name() {
  int dev = 0;
  ok(cudaGetDevice(&dev), "cudaGetDevice");
  cudaDeviceProp p{};
  ok(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
  return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         std::to_string(p.multiProcessorCount) + " SMs)";
}

DeviceBuffer::DeviceBuffer(size_t bytes, size_t guard) : bytes_(bytes), guard_(guard) {
  ok(cudaMalloc(&base_, bytes + 2 * guard), "cudaMalloc");
  ok(cudaMemset(base_, kGuardByte, bytes + 2 * guard), "cudaMemset(guards)");
}

DeviceBuffer::~DeviceBuffer() {
  if (base_) (void)cudaFree(base_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : base_(o.base_), bytes_(o.bytes_), guard_(o.guard_) {
  o.base_ = nullptr;
  o.bytes_ = o.guard_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (base_) (void)cudaFree(base_);
    base_ = o.base_;
    bytes_ = o.bytes_;
    guard_ = o.guard_;
    o.base_ = nullptr;
    o.bytes_ = o.guard_ = 0;
  }
  return *this;
}

void DeviceBuffer::upload(const void* src, size_t bytes, size_t offset) {
  if (offset + bytes > bytes_) throw std::out_of_range("DeviceBuffer::upload past the end");
  if (bytes) ok(cudaMemcpy(static_cast<char*>(data()) + offset, src, bytes, cudaMemcpyHostToDevice), "upload");
}

void DeviceBuffer::download(void* dst, size_t bytes, size_t offset) const {
  if (offset + bytes > bytes_) throw std::out_of_range("DeviceBuffer::download past the end");
  if (bytes) ok(cudaMemcpy(dst, static_cast<const char*>(data()) + offset, bytes, cudaMemcpyDeviceToHost), "download");
}

void DeviceBuffer::fill(uint8_t byte) {
  if (bytes_) ok(cudaMemset(data(), byte, bytes_), "cudaMemset");
  ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

bool DeviceBuffer::guards_intact() const {
  if (!base_ || guard_ == 0) return true;
  std::string front(guard_, '\0'), back(guard_, '\0');
  ok(cudaMemcpy(front.data(), base_, guard_, cudaMemcpyDeviceToHost), "download(guard)");
  ok(cudaMemcpy(back.data(), static_cast<char*>(base_) + guard_ + bytes_, guard_, cudaMemcpyDeviceToHost),
     "download(guard)");
  for (size_t i = 0; i < guard_; ++i)
    if (static_cast<uint8_t>(front[i]) != kGuardByte || static_cast<uint8_t>(back[i]) != kGuardByte)
      return false;
  return true;
}

void* create_stream() {
  cudaStream_t s = nullptr;
  ok(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  return s;
}

void destroy_stream(void* stream) { (void)cudaStreamDestroy(static_cast<cudaStream_t>(stream)); }

void synchronize(void* stream) {
  ok(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

void device_synchronize() { ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

Graph::~Graph() {
  if (exec_) (void)cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_) (void)cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
}

void Graph::begin_capture(void* stream) {
  stream_ = stream;
  ok(cudaStreamBeginCapture(static_cast<cudaStream_t>(stream), cudaStreamCaptureModeThreadLocal),
     "cudaStreamBeginCapture");
}

void Graph::end_capture() {
  cudaGraph_t g = nullptr;
  ok(cudaStreamEndCapture(static_cast<cudaStream_t>(stream_), &g), "cudaStreamEndCapture");
  graph_ = g;
  cudaGraphExec_t e = nullptr;
  ok(cudaGraphInstantiate(&e, g, 0), "cudaGraphInstantiate");
  exec_ = e;
}

void Graph::abort_capture() {
  cudaGraph_t g = nullptr;
  (void)cudaStreamEndCapture(static_cast<cudaStream_t>(stream_), &g);
  if (g) (void)cudaGraphDestroy(g);
  (void)cudaGetLastError();
}

void Graph::launch(void* stream) {
  ok(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), static_cast<cudaStream_t>(stream)),
     "cudaGraphLaunch");
}

void force_canonical_kernel(const std::string& which) {
  using cuda::detail::CanonicalKernel;
  if (which == "auto")
    cuda::detail::set_canonical_override(CanonicalKernel::Auto);
  else if (which == "splitk")
    cuda::detail::set_canonical_override(CanonicalKernel::SplitK);
  else if (which == "tiled")
    cuda::detail::set_canonical_override(CanonicalKernel::Tiled);
  else
    throw std::invalid_argument("force_canonical_kernel: auto, splitk or tiled, got " + which);
}

void force_epilogue_kernel(const std::string& which) {
  using cuda::detail::EpilogueKernel;
  if (which == "auto")
    cuda::detail::set_epilogue_override(EpilogueKernel::Auto);
  else if (which == "fused")
    cuda::detail::set_epilogue_override(EpilogueKernel::Fused);
  else if (which == "split")
    cuda::detail::set_epilogue_override(EpilogueKernel::Split);
  else if (which == "warp")
    cuda::detail::set_epilogue_override(EpilogueKernel::Warp);
  else
    throw std::invalid_argument("force_epilogue_kernel: auto, fused, split or warp, got " + which);
}

void force_activation_screen(bool on) { cuda::detail::set_activation_screen(on); }
void force_group_registers(bool on) { cuda::detail::set_group_registers(on); }
bool activation_screen_on() { return cuda::detail::activation_screen_on(); }
bool group_registers_on() { return cuda::detail::group_registers_on(); }

namespace {
// MOEROUTER_TEST_FRESH_PATHS=1 / =0: the screened epilogue paths on / off from the start
// (cuda_testing.hpp); unset: the library's default.
const bool g_fresh_paths_from_env = [] {
  const char* v = std::getenv("MOEROUTER_TEST_FRESH_PATHS");
  if (v == nullptr) return false;
  const std::string value(v);
  if (value != "0" && value != "1") {
    std::fprintf(stderr, "MOEROUTER_TEST_FRESH_PATHS: expected 0 or 1, got \"%s\"\n", v);
    std::exit(2);
  }
  const bool on = value == "1";
  force_activation_screen(on);
  force_group_registers(on);
  std::fprintf(stderr, "MOEROUTER_TEST_FRESH_PATHS=%s: activation screen and group registers %s\n",
               v, on ? "on" : "off");
  return true;
}();
}  // namespace

}  // namespace moerouter::cuda_testing
