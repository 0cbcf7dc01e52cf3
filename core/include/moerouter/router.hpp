// The Router interface (DESIGN.md §4): one object per (config, weights); route() is thread-safe.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>

#include "moerouter/config.hpp"
#include "moerouter/tensor.hpp"

namespace moerouter {

struct RouteOptions {
  void* stream = nullptr;              // cudaStream_t for the CUDA backend; ignored on the CPU
  std::optional<GemmMode> gemm;        // overrides RouterConfig::gemm for this call
  int threads = 0;                     // CPU: OpenMP threads for this call; 0 = OpenMP's default
  bool validate = false;               // non-finite logits become Error(NonFiniteInput), nothing written
  // CUDA with device tensors: count non-finite rows on the device and synchronize the stream so the
  // returned RouteStats holds the counts (not capturable in a CUDA graph). Without it that path
  // reports -1. The CPU backend and host tensors on a CUDA router always count; there it is a no-op.
  bool sync_stats = false;
  std::optional<TensorView> logits_out;  // [N, E] F32: the backend's own logits
  std::optional<TensorView> counts_out;  // [E] I32 or I64: tokens routed to each expert
  // The dispatch layout a grouped expert GEMM consumes (either or both):
  //   expert_offsets_out [E + 1] I32/I64: offsets[e] = slots routed to experts < e (offsets[E] = N*k);
  //   token_slots_out   [N * k] I32/I64: the slots (token * k + rank) grouped by expert, experts in
  //   ascending order and, within an expert, slots in ascending token order (stable).
  std::optional<TensorView> expert_offsets_out;
  std::optional<TensorView> token_slots_out;
  // Hash routing (DeepSeek-V4's first layers): both or neither. ids = hash_table[token_ids[n]].
  std::optional<TensorView> token_ids;   // [N] I32 or I64, each in [0, vocab)
  std::optional<TensorView> hash_table;  // [vocab, k] I32 or I64, each in [0, E)
};

struct RouteStats {
  int64_t rows = 0;
  int64_t nonfinite_rows = 0;       // rows whose logits hold NaN or ±inf
  int64_t first_nonfinite_row = -1;
  DeviceType device = DeviceType::Cpu;
  GemmMode gemm = GemmMode::Canonical;
  const char* kernel = "";          // which code path ran (for logs and benchmarks)
};

class Router {
 public:
  virtual ~Router() = default;
  virtual const RouterConfig& config() const = 0;
  virtual DeviceType device() const = 0;
  virtual const char* backend_name() const = 0;
  // Whether route() can run this gemm mode (callers skip cleanly instead of catching).
  virtual bool supports(GemmMode mode) const = 0;
  // W [E, H] BF16/F32 and optional bias [E] F32; copied/packed once. Must be called before route().
  virtual void set_weights(TensorView weight, std::optional<TensorView> bias = std::nullopt) = 0;
  // x [N, H] BF16/F32 -> weights_out [N, k] F32, ids_out [N, k] I32, rank order (best first).
  // Every argument is checked before anything is written; on error outputs stay untouched.
  virtual RouteStats route(TensorView x, TensorView weights_out, TensorView ids_out,
                           const RouteOptions& options = {}) = 0;
};

}  // namespace moerouter
