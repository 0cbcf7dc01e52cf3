#include "cuda_router.hpp"

#include "host_staging.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "bf16_fused.hpp"
#include "bf16_fused_wgmma.hpp"
#include "canonical_tiled.hpp"
#include "cublas_gemm.hpp"
#include "decode_route.hpp"
#include "dispatch_layout.hpp"
#include "env_integer.hpp"
#include "kernels.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/error.hpp"
#include "moerouter/route_checks.hpp"

namespace moerouter::cuda::detail {

namespace {

constexpr unsigned long long kNoBadRow = ~0ull;

bool stream_capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream, &status), "cudaStreamIsCapturing");
  return status != cudaStreamCaptureStatusNone;
}

const char* kernel_name(CanonicalKernel k) {
  return k == CanonicalKernel::SplitK ? "cuda-canonical-splitk" : "cuda-canonical-tiled";
}

// Reads one flag written by a check kernel: the stream is synchronized here (documented in cuda.hpp).
unsigned long long read_flag(const Workspace& ws, cudaStream_t stream) {
  unsigned long long v = 0;
  check(cudaMemcpyAsync(&v, ws.flag.get(), sizeof v, cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync(error flag)");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(error flag)");
  return v;
}

int64_t read_device_index(const TensorView& t, int64_t i) {
  int64_t v = 0;
  if (t.dtype == DType::I32) {
    int32_t v32 = 0;
    check(cudaMemcpy(&v32, static_cast<const int32_t*>(t.data) + i, 4, cudaMemcpyDeviceToHost),
          "cudaMemcpy(index)");
    v = v32;
  } else {
    check(cudaMemcpy(&v, static_cast<const int64_t*>(t.data) + i, 8, cudaMemcpyDeviceToHost),
          "cudaMemcpy(index)");
  }
  return v;
}

// Which one-launch router (GEMM and epilogue fused) takes this call, if any. Not with validate
// (its check reads the logits before anything is written) nor while a test forces a kernel or an
// epilogue version (those tests exercise the unfused pieces).
enum class FusedPath { None, Decode, Bf16 };

// Rows up to which gemm=bf16 takes the decode router rather than cuBLAS + the epilogue kernel.
// Measured (H100 2026-12-07 s6, H200 2026-12-07 s8, NOTES.md): decode wins group-limited configs
// (dsv3: n = 1 by 1.6-2.1 us, n = 4 by 0.2-0.5 us) and loses from n = 16; it loses dsv4-pro at every
// n and wins dsv4-flash only at n = 1, by 0.2-0.4 us (within run-to-run spread). The likely reason
// (not profiled): without a group limit the standalone epilogue's activation screen makes a row
// cheap, while a group-limited row activates all of its experts exactly in one warp (H100 bench,
// 2026-12-07 s8: dsv3 bf16 n = 1 spends ~9 us after cuBLAS, dsv4-pro ~4.3); the decode router
// spreads those activations over its owner threads. So: up to kBf16DecodeMaxRowsGrouped rows for a
// group-limited config, never otherwise. The environment variable MOEROUTER_BF16_DECODE_MAX_ROWS
// (an integer 0..64; 0 = never) replaces the rule for every config, so the crossover can be
// re-measured on another device with `moerouter bench` under each value. Read once per process.
constexpr int64_t kBf16DecodeMaxRowsGrouped = 4;
constexpr int64_t kBf16DecodeRule = -1;  // the environment variable is unset: the rule above

int64_t bf16_decode_max_rows(bool group_limited) {
  static const int64_t rows =
      env_integer("MOEROUTER_BF16_DECODE_MAX_ROWS", 0, kDecodeMaxRows, kBf16DecodeRule);
  if (rows != kBf16DecodeRule) return rows;
  return group_limited ? kBf16DecodeMaxRowsGrouped : 0;
}

// Rows from which gemm=bf16 takes the fused wgmma router (one kernel: TMA + wgmma GEMM, then the
// standalone epilogue's screened functions on each row parked in shared memory) instead of cuBLAS +
// the epilogue kernel, for BF16 x on sm_90 (bf16_wgmma_can_run). 0 = never, the default: the
// kernel gives each block 128 rows x all experts and runs the epilogue after the block's GEMM, so it
// did not beat cuBLAS + the epilogue kernel even at full waves (H100, 2026-12-07: dsv4-pro N = 16384
// 161.3 vs 160.7 us, N = 32768 311.5 vs 301.6). MOEROUTER_BF16_FUSED_MIN_ROWS sets it, so
// `moerouter bench` can measure it on any device. Read once per process.
int64_t bf16_fused_min_rows() {
  static const int64_t rows = env_integer("MOEROUTER_BF16_FUSED_MIN_ROWS", 0, int64_t{1} << 40, 0);
  return rows;
}

FusedPath fused_path_for(GemmMode mode, int64_t n, int64_t E, int64_t H, bool group_limited, const XView& x,
                         bool validate) {
  if (validate || n <= 0 || canonical_override() != CanonicalKernel::Auto || epilogue_overridden())
    return FusedPath::None;
  // Decode where it measured faster than the unfused path (H100, 2026-11-25): canonical at every
  // n <= 64 (3-12x), fp32 up to n = 4 (cuBLAS wins from 16 rows); bf16 up to bf16_decode_max_rows().
  const bool decode_wins = mode == GemmMode::Canonical || (mode == GemmMode::Fp32 && n <= 4) ||
                           (mode == GemmMode::Bf16 && n <= bf16_decode_max_rows(group_limited));
  if (decode_wins && decode_route_supports(mode, n, E, H)) return FusedPath::Decode;
  if (mode == GemmMode::Bf16 && bf16_fused_supports(n, E, H, x)) return FusedPath::Bf16;
  const int64_t fused_rows = bf16_fused_min_rows();
  if (mode == GemmMode::Bf16 && fused_rows > 0 && n >= fused_rows && bf16_fused_can_run(E, H, x) &&
      bf16_wgmma_can_run(E, H, x))
    return FusedPath::Bf16;
  return FusedPath::None;
}

}  // namespace

CudaRouterImpl::CudaRouterImpl(const RouterConfig& cfg) : cfg_(cfg) {
  validate(cfg_);
  if (!device_present())
    fail_arg(ErrorCode::BackendUnavailable, "device", "a usable CUDA device", "none found by the CUDA runtime");
  if (cfg_.hidden > INT_MAX / 2)
    fail_arg(ErrorCode::Unsupported, "config.hidden", "hidden <= " + std::to_string(INT_MAX / 2) +
             " on the CUDA backend", cfg_.hidden);
  check(cudaGetDevice(&device_), "cudaGetDevice");
}

CudaRouterImpl::~CudaRouterImpl() {
  // Enqueued calls may still read the weights and workspaces about to be freed.
  try {
    DeviceGuard guard(device_);
    (void)cudaDeviceSynchronize();
    pool_.clear();
    w_f32_ = DeviceArray();
    w_bf16_ = DeviceArray();
    bias_ = DeviceArray();
  } catch (...) {
  }
}

void CudaRouterImpl::set_weights(TensorView weight, std::optional<TensorView> bias) {
  check_weight_args(cfg_, weight, bias, weight.device);
  if (weight.device == DeviceType::Cuda && weight.device_id != device_)
    fail_arg(ErrorCode::DeviceMismatch, "weight", "a tensor on CUDA device " + std::to_string(device_),
             "CUDA device " + std::to_string(weight.device_id));
  if (bias && bias->device == DeviceType::Cuda && bias->device_id != device_)
    fail_arg(ErrorCode::DeviceMismatch, "bias", "a tensor on CUDA device " + std::to_string(device_),
             "CUDA device " + std::to_string(bias->device_id));
  const int64_t E = cfg_.experts, H = cfg_.hidden;
  const size_t count = static_cast<size_t>(E * H);
  DeviceGuard guard(device_);

  // Convert on the host (the conversions are core's, so both backends hold the same values).
  std::vector<float> wf;
  std::vector<uint16_t> wb;
  std::vector<float> b;
  try {
    wf.resize(count);
    wb.resize(count);
    if (bias) b.resize(static_cast<size_t>(E));
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::OutOfMemory, "cuda set_weights: host staging for ", weight.shape_string());
  }
  const auto copy_in = [&](void* dst, const TensorView& t, size_t bytes) {
    if (t.device == DeviceType::Cuda)
      check(cudaMemcpy(dst, t.data, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy(weights to host)");
    else
      std::memcpy(dst, t.data, bytes);
  };
  if (weight.dtype == DType::F32) {
    copy_in(wf.data(), weight, count * sizeof(float));
  } else {
    copy_in(wb.data(), weight, count * sizeof(uint16_t));
    for (size_t i = 0; i < count; ++i) wf[i] = bf16_to_float(wb[i]);  // exact
  }
  for (size_t i = 0; i < count; ++i) wb[i] = float_to_bf16(wf[i]);  // as the CPU's rows_bf16
  // Whether the bf16 copy holds W's values exactly (weights set as bf16, as checkpoints store them):
  // then the decode router may read it in canonical and fp32 modes too (decode_route.hpp).
  bool bf16_exact = true;
  for (size_t i = 0; i < count && bf16_exact; ++i) {
    const float back = bf16_to_float(wb[i]);
    bf16_exact = std::memcmp(&back, &wf[i], sizeof(float)) == 0;
  }
  if (bias) copy_in(b.data(), *bias, b.size() * sizeof(float));

  std::unique_lock<std::shared_mutex> lock(weights_mutex_);
  if (!w_f32_.get()) {
    w_f32_ = DeviceArray(count * sizeof(float), "the gate weights (fp32)");
    w_bf16_ = DeviceArray(count * sizeof(uint16_t), "the gate weights (bf16)");
    bias_ = DeviceArray(static_cast<size_t>(E) * sizeof(float), "the bias");
  }
  // Calls enqueued earlier (any stream) read the current weights: let them finish first.
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (set_weights)");
  loaded_ = false;
  check(cudaMemcpy(w_f32_.get(), wf.data(), count * sizeof(float), cudaMemcpyHostToDevice),
        "cudaMemcpy(weights fp32)");
  check(cudaMemcpy(w_bf16_.get(), wb.data(), count * sizeof(uint16_t), cudaMemcpyHostToDevice),
        "cudaMemcpy(weights bf16)");
  if (bias)
    check(cudaMemcpy(bias_.get(), b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice),
          "cudaMemcpy(bias)");
  has_bias_ = bias.has_value();
  w_bf16_exact_ = bf16_exact;
  loaded_ = true;
}

void CudaRouterImpl::check_device_ids(const TensorView& x, const TensorView& w, const TensorView& i,
                                      const RouteOptions& o) const {
  const auto one = [&](const char* name, const TensorView& t) {
    if (t.device_id != device_)
      fail_arg(ErrorCode::DeviceMismatch, name, "a tensor on CUDA device " + std::to_string(device_),
               "CUDA device " + std::to_string(t.device_id));
  };
  one("x", x);
  one("weights_out", w);
  one("ids_out", i);
  if (o.logits_out) one("logits_out", *o.logits_out);
  if (o.counts_out) one("counts_out", *o.counts_out);
  if (o.token_ids) one("token_ids", *o.token_ids);
  if (o.hash_table) one("hash_table", *o.hash_table);
  if (o.expert_offsets_out) one("expert_offsets_out", *o.expert_offsets_out);
  if (o.token_slots_out) one("token_slots_out", *o.token_slots_out);
}

void CudaRouterImpl::check_hash_on_device(Workspace& ws, const RouteOptions& o, int64_t n,
                                          cudaStream_t stream) {
  const TensorView& ids = *o.token_ids;
  const TensorView& table = *o.hash_table;
  const int64_t vocab = table.shape[0];
  check(cudaMemsetAsync(ws.flag.get(), 0xFF, sizeof(unsigned long long), stream), "cudaMemsetAsync(flag)");
  find_bad_hash_row(ids.data, ids.dtype == DType::I64, table.data, table.dtype == DType::I64, vocab,
                    n, cfg_.top_k, cfg_.experts, ws.flag.as<unsigned long long>(), stream);
  const unsigned long long bad = read_flag(ws, stream);
  if (bad == kNoBadRow) return;
  // Same messages as the host check (check_hash_values), for the first bad row.
  const int64_t row = static_cast<int64_t>(bad);
  const int64_t t = read_device_index(ids, row);
  if (t < 0 || t >= vocab)
    fail_arg(ErrorCode::InvalidArgument, "token_ids[" + std::to_string(row) + "]",
             "a token id in [0, " + std::to_string(vocab) + ")", t);
  for (int j = 0; j < cfg_.top_k; ++j) {
    const int64_t e = read_device_index(table, t * cfg_.top_k + j);
    if (e < 0 || e >= cfg_.experts)
      fail_arg(ErrorCode::InvalidArgument, "hash_table[" + std::to_string(t) + "][" + std::to_string(j) + "]",
               "an expert id in [0, " + std::to_string(cfg_.experts) + ")", e);
  }
  fail(ErrorCode::Internal, "hash check flagged row ", row, " but its values read back in range");
}

void CudaRouterImpl::check_finite_on_device(Workspace& ws, int64_t n, cudaStream_t stream) {
  check(cudaMemsetAsync(ws.flag.get(), 0xFF, sizeof(unsigned long long), stream), "cudaMemsetAsync(flag)");
  find_nonfinite_row(ws.logits.as<float>(), n, cfg_.experts, ws.flag.as<unsigned long long>(), stream);
  const unsigned long long bad = read_flag(ws, stream);
  if (bad != kNoBadRow)
    fail_arg(ErrorCode::NonFiniteInput, "x[" + std::to_string(bad) + "]", "finite logits (validate=true)",
             "NaN or infinite logits in this row");
}

RouteStats CudaRouterImpl::route(TensorView x, TensorView weights_out, TensorView ids_out,
                                 const RouteOptions& o) {
  // Every tensor on the host: the synchronous staging path (CLI, numpy). Mixed placement falls
  // through to the device checks below, which name the first tensor in the wrong memory.
  if (all_host(x, weights_out, ids_out, o)) return route_from_host(*this, x, weights_out, ids_out, o, device_);
  check_route_args(cfg_, x, weights_out, ids_out, o, DeviceType::Cuda);
  check_device_ids(x, weights_out, ids_out, o);
  if (o.threads < 0)
    fail_arg(ErrorCode::InvalidArgument, "threads", "threads >= 0 (0 = OpenMP default)", o.threads);
  const GemmMode mode = o.gemm.value_or(cfg_.gemm);
  const int64_t n = x.shape[0], E = cfg_.experts, H = cfg_.hidden;
  const auto stream = static_cast<cudaStream_t>(o.stream);

  DeviceGuard guard(device_);
  std::shared_lock<std::shared_mutex> weights_lock(weights_mutex_);
  if (!loaded_)
    fail_arg(ErrorCode::InvalidArgument, "weight", "set_weights() called before route()",
             "a router without weights");
  const bool capturing = stream_capturing(stream);
  if (capturing && (o.validate || o.hash_table || o.sync_stats))
    fail_arg(ErrorCode::Unsupported, o.validate ? "validate" : o.hash_table ? "hash routing" : "sync_stats",
             "no CUDA graph capture (it reads values back to the host and synchronizes)",
             "a call on a capturing stream");

  RouteStats stats;
  stats.rows = n;
  stats.device = DeviceType::Cuda;
  stats.gemm = mode;
  stats.nonfinite_rows = -1;  // not counted without a synchronization (cuda.hpp, sync_stats)
  stats.first_nonfinite_row = -1;
  stats.kernel = mode == GemmMode::Fp32 ? "cublas-sgemm" : mode == GemmMode::Bf16 ? "cublas-bf16" : "";

  Workspace& ws = pool_.get(stream);
  std::lock_guard<std::mutex> ws_lock(ws.mutex);
  const bool x_bf16 = x.dtype == DType::BF16;
  const bool need_stage = (mode == GemmMode::Fp32 && x_bf16) || (mode == GemmMode::Bf16 && !x_bf16);
  ws.ensure(n, need_stage, mode != GemmMode::Canonical, mode == GemmMode::Canonical && canonical_split_wanted(n),
            capturing, E, H);

  if (o.hash_table && n > 0) check_hash_on_device(ws, o, n, stream);  // before anything is written

  const XView xv{x.data, x_bf16, n > 1 ? x.strides[0] : H};
  const FusedPath fused = fused_path_for(mode, n, E, H, cfg_.group_limited(), xv, o.validate);
  float* logits = ws.logits.as<float>();
  if (n > 0 && fused == FusedPath::None) {
    switch (mode) {
      case GemmMode::Canonical:
      {
        const CanonicalSplitScratch split{ws.canonical_split.as<float>(),
                                          ws.canonical_split.get() ? kCanonicalSplitBytes / sizeof(float) : 0};
        bool split_used = false;
        const CanonicalKernel k = canonical_gemm_with_split(CanonicalKernel::Auto, xv, w_f32_.as<float>(), n, E, H,
                                                            logits, stream, split, &split_used);
        stats.kernel = split_used ? "cuda-canonical-tiled-split" : kernel_name(k);
        break;
      }
      case GemmMode::Fp32: sgemm_logits(ws, xv, w_f32_.as<float>(), n, E, H, logits, stream); break;
      case GemmMode::Bf16: bf16_gemm_logits(ws, xv, w_bf16_.as<uint16_t>(), n, E, H, logits, stream); break;
    }
  } else if (n == 0 && mode == GemmMode::Canonical) {
    stats.kernel = kernel_name(CanonicalKernel::SplitK);
  }
  if (o.validate) {
    if (n > 0) check_finite_on_device(ws, n, stream);
    stats.nonfinite_rows = 0;  // the check passed (it throws otherwise)
  }
  const bool count_nonfinite = o.sync_stats && !o.validate && n > 0;
  if (count_nonfinite)
    check(cudaMemsetAsync(ws.nonfinite(), 0, 2 * sizeof(unsigned long long), stream),
          "cudaMemsetAsync(non-finite counters)");

  // From here on outputs are written.
  if (o.counts_out)
    check(cudaMemsetAsync(o.counts_out->data, 0, static_cast<size_t>(E) * dtype_size(o.counts_out->dtype),
                          stream),
          "cudaMemsetAsync(counts_out)");
  if (n > 0) {
    EpilogueArgs a{};
    a.logits = logits;
    a.n = n;
    a.params = epilogue::Params::from(cfg_, has_bias_ ? bias_.as<float>() : nullptr);
    a.weights_out = static_cast<float*>(weights_out.data);
    a.ids_out = static_cast<int32_t*>(ids_out.data);
    a.logits_out = o.logits_out ? static_cast<float*>(o.logits_out->data) : nullptr;
    a.counts = o.counts_out ? o.counts_out->data : nullptr;
    a.counts_i64 = o.counts_out && o.counts_out->dtype == DType::I64;
    a.token_ids = o.token_ids ? o.token_ids->data : nullptr;
    a.token_ids_i64 = o.token_ids && o.token_ids->dtype == DType::I64;
    a.hash_table = o.hash_table ? o.hash_table->data : nullptr;
    a.hash_table_i64 = o.hash_table && o.hash_table->dtype == DType::I64;
    a.nonfinite = count_nonfinite ? ws.nonfinite() : nullptr;
    a.screen = activation_screen_on();
    a.group_registers = group_registers_on();
    if (fused == FusedPath::None) {
      epilogue(a, stream);
    } else {
      const FusedRouteArgs f{xv, n, E, H, w_f32_.as<float>(), w_bf16_.as<uint16_t>(), a, ws.grid_counter()};
      if (fused == FusedPath::Decode) {
        decode_route(mode, f, stream, w_bf16_exact_);
        stats.kernel = "cuda-decode-fused";
      } else {
        bf16_fused_route(f, stream);
        stats.kernel = "cuda-bf16-fused";
      }
    }
  }
  if (o.expert_offsets_out || o.token_slots_out) {
    if (n > 0) {
      dispatch_layout(static_cast<const int32_t*>(ids_out.data), n * cfg_.top_k, E, ws.layout.as<int64_t>(),
                      o.expert_offsets_out ? o.expert_offsets_out->data : nullptr,
                      o.expert_offsets_out && o.expert_offsets_out->dtype == DType::I64,
                      o.token_slots_out ? o.token_slots_out->data : nullptr,
                      o.token_slots_out && o.token_slots_out->dtype == DType::I64, stream);
    } else if (o.expert_offsets_out) {  // no slots: every offset is 0
      check(cudaMemsetAsync(o.expert_offsets_out->data, 0,
                            static_cast<size_t>(E + 1) * dtype_size(o.expert_offsets_out->dtype), stream),
            "cudaMemsetAsync(expert_offsets_out)");
    }
  }
  if (o.sync_stats && !o.validate) {
    unsigned long long v[2] = {0, 0};
    if (count_nonfinite) {
      check(cudaMemcpyAsync(v, ws.nonfinite(), sizeof v, cudaMemcpyDeviceToHost, stream),
            "cudaMemcpyAsync(non-finite counters)");
      check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(sync_stats)");
    }
    stats.nonfinite_rows = static_cast<int64_t>(v[0]);
    stats.first_nonfinite_row = v[0] ? static_cast<int64_t>(~v[1]) : -1;
  }
  return stats;
}

void CudaRouterImpl::reserve(int64_t max_rows, void* stream) {
  if (max_rows < 0) fail_arg(ErrorCode::InvalidArgument, "max_rows", "max_rows >= 0", max_rows);
  DeviceGuard guard(device_);
  const auto s = static_cast<cudaStream_t>(stream);
  Workspace& ws = pool_.get(s);
  std::lock_guard<std::mutex> lock(ws.mutex);
  // The canonical split's scratch too when some call up to max_rows may split (64 MiB).
  const bool may_split = canonical_split_wanted(std::min(max_rows, kCanonicalSplitMaxRows));
  ws.ensure(max_rows, true, true, may_split, stream_capturing(s), cfg_.experts, cfg_.hidden);
  // The fast canonical kernel configures itself (shared-memory attributes, occupancy) on first use;
  // do that here, outside any graph capture that may follow.
  const int64_t rows = std::max<int64_t>(max_rows, 1);
  (void)canonical_tiled_pick(rows, static_cast<int>(cfg_.experts), false);
  (void)canonical_tiled_pick(rows, static_cast<int>(cfg_.experts), true);
}

}  // namespace moerouter::cuda::detail
