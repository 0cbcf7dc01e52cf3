#include "host_staging.hpp"

#include <cstring>
#include <vector>

#include <cuda_runtime.h>

#include "cuda_check.hpp"
#include "moerouter/epilogue.hpp"
#include "moerouter/route_checks.hpp"

namespace moerouter::cuda::detail {

namespace {

// A host tensor's device twin: same shape, contiguous rows (x keeps only its valid row bytes).
struct Staged {
  DeviceArray memory;
  TensorView view;
};

Staged stage(const TensorView& host, bool copy_in, int device_id, const char* what) {
  Staged s;
  const size_t elem = dtype_size(host.dtype);
  const int64_t rows = host.ndim == 2 ? host.shape[0] : 1;
  const int64_t cols = host.ndim == 2 ? host.shape[1] : host.shape[0];
  const size_t row_bytes = static_cast<size_t>(cols) * elem;
  const size_t bytes = static_cast<size_t>(rows) * row_bytes;
  s.memory = DeviceArray(bytes ? bytes : elem, what);
  s.view = host.ndim == 2 ? TensorView::matrix(s.memory.get(), host.dtype, rows, cols, DeviceType::Cuda, device_id)
                          : TensorView::vector(s.memory.get(), host.dtype, cols, DeviceType::Cuda, device_id);
  if (copy_in && bytes) {
    const int64_t pitch = host.ndim == 2 && rows > 1 ? host.strides[0] * static_cast<int64_t>(elem) : row_bytes;
    check(cudaMemcpy2D(s.memory.get(), row_bytes, host.data, static_cast<size_t>(pitch), row_bytes,
                       static_cast<size_t>(rows), cudaMemcpyHostToDevice),
          what);
  }
  return s;
}

void copy_out(const Staged& s, const TensorView& host, const char* what) {
  const size_t bytes = static_cast<size_t>(host.numel()) * dtype_size(host.dtype);
  if (bytes) check(cudaMemcpy(host.data, s.memory.get(), bytes, cudaMemcpyDeviceToHost), what);
}

}  // namespace

bool all_host(const TensorView& x, const TensorView& weights_out, const TensorView& ids_out,
              const RouteOptions& o) {
  const auto host = [](const std::optional<TensorView>& t) { return !t || t->device == DeviceType::Cpu; };
  return x.device == DeviceType::Cpu && weights_out.device == DeviceType::Cpu &&
         ids_out.device == DeviceType::Cpu && host(o.logits_out) && host(o.counts_out) &&
         host(o.token_ids) && host(o.hash_table) && host(o.expert_offsets_out) && host(o.token_slots_out);
}

RouteStats route_from_host(Router& router, const TensorView& x, const TensorView& weights_out,
                           const TensorView& ids_out, const RouteOptions& o, int device_id) {
  const RouterConfig& cfg = router.config();
  check_route_args(cfg, x, weights_out, ids_out, o, DeviceType::Cpu);  // as a host call
  if (o.hash_table) check_hash_values(cfg, *o.token_ids, *o.hash_table);
  const int64_t n = x.shape[0];

  // Everything is staged (and every allocation made) before the device call writes anything.
  Staged dx = stage(x, true, device_id, "host staging: x");
  Staged dw = stage(weights_out, false, device_id, "host staging: weights_out");
  Staged di = stage(ids_out, false, device_id, "host staging: ids_out");
  TensorView logits_host = TensorView::matrix(static_cast<float*>(nullptr), n, cfg.experts);
  std::vector<float> logits_buffer;
  if (o.logits_out) {
    logits_host = *o.logits_out;
  } else {
    logits_buffer.resize(static_cast<size_t>(n * cfg.experts));
    logits_host.data = logits_buffer.data();
  }
  Staged dl = stage(logits_host, false, device_id, "host staging: logits");
  RouteOptions d = o;
  d.sync_stats = false;  // counted below from the host copy of the logits
  d.stream = nullptr;  // synchronous path on the legacy default stream
  d.logits_out = dl.view;
  Staged dc, dt, dh, doff, dslots;
  if (o.expert_offsets_out) {
    doff = stage(*o.expert_offsets_out, false, device_id, "host staging: expert_offsets_out");
    d.expert_offsets_out = doff.view;
  }
  if (o.token_slots_out) {
    dslots = stage(*o.token_slots_out, false, device_id, "host staging: token_slots_out");
    d.token_slots_out = dslots.view;
  }
  if (o.counts_out) {
    dc = stage(*o.counts_out, false, device_id, "host staging: counts_out");
    d.counts_out = dc.view;
  }
  if (o.hash_table) {
    dt = stage(*o.token_ids, true, device_id, "host staging: token_ids");
    dh = stage(*o.hash_table, true, device_id, "host staging: hash_table");
    d.token_ids = dt.view;
    d.hash_table = dh.view;
  }
  RouteStats stats = router.route(dx.view, dw.view, di.view, d);
  check(cudaDeviceSynchronize(), "host staging: cudaDeviceSynchronize");

  // Download into host scratch first, so a failing copy leaves the caller's outputs untouched.
  std::vector<char> w(static_cast<size_t>(weights_out.numel()) * 4), i(static_cast<size_t>(ids_out.numel()) * 4);
  if (!w.empty()) check(cudaMemcpy(w.data(), dw.memory.get(), w.size(), cudaMemcpyDeviceToHost), "host staging: weights");
  if (!i.empty()) check(cudaMemcpy(i.data(), di.memory.get(), i.size(), cudaMemcpyDeviceToHost), "host staging: ids");
  copy_out(dl, logits_host, "host staging: logits");
  if (o.counts_out) copy_out(dc, *o.counts_out, "host staging: counts");
  if (o.expert_offsets_out) copy_out(doff, *o.expert_offsets_out, "host staging: expert offsets");
  if (o.token_slots_out) copy_out(dslots, *o.token_slots_out, "host staging: token slots");
  if (!w.empty()) std::memcpy(weights_out.data, w.data(), w.size());
  if (!i.empty()) std::memcpy(ids_out.data, i.data(), i.size());

  // Real non-finite counts from the logits (the device path does not count without validate).
  stats.nonfinite_rows = 0;
  stats.first_nonfinite_row = -1;
  const auto* L = static_cast<const float*>(logits_host.data);
  for (int64_t r = 0; r < n; ++r)
    if (!epilogue::row_is_finite(L + r * cfg.experts, cfg.experts)) {
      if (stats.first_nonfinite_row < 0) stats.first_nonfinite_row = r;
      ++stats.nonfinite_rows;
    }
  return stats;
}

}  // namespace moerouter::cuda::detail
