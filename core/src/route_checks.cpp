#include "moerouter/route_checks.hpp"

#include <climits>
#include <string>

#include "moerouter/error.hpp"

namespace moerouter {

namespace {

std::string dims(int64_t a) { return "[" + std::to_string(a) + "]"; }
std::string dims(int64_t a, int64_t b) {
  return "[" + std::to_string(a) + ", " + std::to_string(b) + "]";
}

void check_device(const char* name, const TensorView& t, DeviceType device) {
  if (t.device != device)
    fail_arg(ErrorCode::DeviceMismatch, name, std::string("a tensor in ") + to_string(device) + " memory",
             std::string("a tensor in ") + to_string(t.device) + " memory");
}

void check_rank(const char* name, const TensorView& t, int rank, const std::string& expected_shape) {
  if (t.ndim != rank)
    fail_arg(ErrorCode::ShapeMismatch, name, std::to_string(rank) + " dims " + expected_shape,
             std::to_string(t.ndim) + " dims " + t.shape_string());
}

void check_shape2(const char* name, const TensorView& t, int64_t r, int64_t c) {
  check_rank(name, t, 2, dims(r, c));
  if (t.shape[0] != r || t.shape[1] != c)
    fail_arg(ErrorCode::ShapeMismatch, name, "shape " + dims(r, c), "shape " + t.shape_string());
}

void check_shape1(const char* name, const TensorView& t, int64_t n) {
  check_rank(name, t, 1, dims(n));
  if (t.shape[0] != n)
    fail_arg(ErrorCode::ShapeMismatch, name, "shape " + dims(n), "shape " + t.shape_string());
}

void check_dtype(const char* name, const TensorView& t, const char* expected, bool ok) {
  if (!ok) fail_arg(ErrorCode::DtypeMismatch, name, expected, to_string(t.dtype));
}

bool is_index(DType d) { return d == DType::I32 || d == DType::I64; }
bool is_float_input(DType d) { return d == DType::F32 || d == DType::BF16; }

void check_data(const char* name, const TensorView& t) {
  if (t.numel() > 0 && t.data == nullptr)
    fail_arg(ErrorCode::InvalidArgument, name, "non-null data for " + t.shape_string(), "null");
}

void check_contiguous(const char* name, const TensorView& t) {
  if (!t.is_contiguous()) {
    std::string s = "[";
    for (int i = 0; i < t.ndim; ++i) s += (i ? ", " : "") + std::to_string(t.strides[i]);
    fail_arg(ErrorCode::LayoutUnsupported, name, "contiguous C-order strides", "strides " + s + "]");
  }
}

void check_alignment(const char* name, const TensorView& t) {
  const auto addr = reinterpret_cast<uintptr_t>(t.data);
  const size_t need = dtype_size(t.dtype);
  if (need && addr % need != 0)
    fail_arg(ErrorCode::LayoutUnsupported, name, std::to_string(need) + "-byte aligned data",
             "address " + std::to_string(addr));
}

}  // namespace

void check_weight_args(const RouterConfig& cfg, const TensorView& weight,
                       const std::optional<TensorView>& bias, DeviceType device) {
  check_shape2("weight", weight, cfg.experts, cfg.hidden);
  check_dtype("weight", weight, "float32 or bfloat16", is_float_input(weight.dtype));
  check_device("weight", weight, device);
  check_data("weight", weight);
  check_contiguous("weight", weight);
  check_alignment("weight", weight);
  if (bias) {
    check_shape1("bias", *bias, cfg.experts);
    check_dtype("bias", *bias, "float32", bias->dtype == DType::F32);
    check_device("bias", *bias, device);
    check_data("bias", *bias);
    check_contiguous("bias", *bias);
    check_alignment("bias", *bias);
  }
}

void check_route_args(const RouterConfig& cfg, const TensorView& x, const TensorView& weights_out,
                      const TensorView& ids_out, const RouteOptions& o, DeviceType device) {
  check_rank("x", x, 2, "[N, " + std::to_string(cfg.hidden) + "]");
  const int64_t n = x.shape[0];
  if (n < 0) fail_arg(ErrorCode::ShapeMismatch, "x", "N >= 0 rows", n);
  if (x.shape[1] != cfg.hidden)
    fail_arg(ErrorCode::ShapeMismatch, "x", "shape [N, " + std::to_string(cfg.hidden) + "] (hidden)",
             "shape " + x.shape_string());
  check_dtype("x", x, "float32 or bfloat16", is_float_input(x.dtype));
  check_device("x", x, device);
  check_data("x", x);
  check_alignment("x", x);
  if (n > 1 && (x.strides[1] != 1 || x.strides[0] < cfg.hidden)) {
    fail_arg(ErrorCode::LayoutUnsupported, "x", "unit inner stride and row stride >= hidden",
             "strides [" + std::to_string(x.strides[0]) + ", " + std::to_string(x.strides[1]) + "]");
  }
  if (n == 1 && x.strides[1] != 1 && cfg.hidden > 1)
    fail_arg(ErrorCode::LayoutUnsupported, "x", "unit inner stride", x.strides[1]);

  const int k = cfg.top_k;
  check_shape2("weights_out", weights_out, n, k);
  check_dtype("weights_out", weights_out, "float32", weights_out.dtype == DType::F32);
  check_device("weights_out", weights_out, device);
  check_data("weights_out", weights_out);
  check_contiguous("weights_out", weights_out);
  check_alignment("weights_out", weights_out);

  check_shape2("ids_out", ids_out, n, k);
  check_dtype("ids_out", ids_out, "int32", ids_out.dtype == DType::I32);
  check_device("ids_out", ids_out, device);
  check_data("ids_out", ids_out);
  check_contiguous("ids_out", ids_out);
  check_alignment("ids_out", ids_out);

  if (o.logits_out) {
    check_shape2("logits_out", *o.logits_out, n, cfg.experts);
    check_dtype("logits_out", *o.logits_out, "float32", o.logits_out->dtype == DType::F32);
    check_device("logits_out", *o.logits_out, device);
    check_data("logits_out", *o.logits_out);
    check_contiguous("logits_out", *o.logits_out);
    check_alignment("logits_out", *o.logits_out);
  }
  if (o.counts_out) {
    check_shape1("counts_out", *o.counts_out, cfg.experts);
    check_dtype("counts_out", *o.counts_out, "int32 or int64", is_index(o.counts_out->dtype));
    check_device("counts_out", *o.counts_out, device);
    check_data("counts_out", *o.counts_out);
    check_contiguous("counts_out", *o.counts_out);
    check_alignment("counts_out", *o.counts_out);
  }
  if (o.expert_offsets_out) {
    check_shape1("expert_offsets_out", *o.expert_offsets_out, cfg.experts + 1);
    check_dtype("expert_offsets_out", *o.expert_offsets_out, "int32 or int64", is_index(o.expert_offsets_out->dtype));
    check_device("expert_offsets_out", *o.expert_offsets_out, device);
    check_data("expert_offsets_out", *o.expert_offsets_out);
    check_contiguous("expert_offsets_out", *o.expert_offsets_out);
    check_alignment("expert_offsets_out", *o.expert_offsets_out);
  }
  if (o.token_slots_out) {
    check_shape1("token_slots_out", *o.token_slots_out, n * k);
    check_dtype("token_slots_out", *o.token_slots_out, "int32 or int64", is_index(o.token_slots_out->dtype));
    check_device("token_slots_out", *o.token_slots_out, device);
    check_data("token_slots_out", *o.token_slots_out);
    check_contiguous("token_slots_out", *o.token_slots_out);
    check_alignment("token_slots_out", *o.token_slots_out);
  }
  for (const auto* t : {&o.expert_offsets_out, &o.token_slots_out})
    if (*t && (*t)->dtype == DType::I32 && n * k > INT32_MAX)
      fail_arg(ErrorCode::DtypeMismatch, t == &o.expert_offsets_out ? "expert_offsets_out" : "token_slots_out",
               "int64 when N * k exceeds 2^31 - 1", "int32 with N * k = " + std::to_string(n * k));
  if (o.token_ids.has_value() != o.hash_table.has_value())
    fail_arg(ErrorCode::InvalidArgument, "hash routing", "both token_ids and hash_table, or neither",
             o.token_ids ? "token_ids without hash_table" : "hash_table without token_ids");
  if (o.hash_table) {
    check_shape1("token_ids", *o.token_ids, n);
    check_dtype("token_ids", *o.token_ids, "int32 or int64", is_index(o.token_ids->dtype));
    check_device("token_ids", *o.token_ids, device);
    check_data("token_ids", *o.token_ids);
    check_contiguous("token_ids", *o.token_ids);
    check_alignment("token_ids", *o.token_ids);
    const TensorView& h = *o.hash_table;
    check_rank("hash_table", h, 2, "[vocab, " + std::to_string(k) + "]");
    if (h.shape[1] != k || h.shape[0] < 1)
      fail_arg(ErrorCode::ShapeMismatch, "hash_table", "shape [vocab >= 1, " + std::to_string(k) + "] (top_k)",
               "shape " + h.shape_string());
    check_dtype("hash_table", h, "int32 or int64", is_index(h.dtype));
    check_device("hash_table", h, device);
    check_data("hash_table", h);
    check_contiguous("hash_table", h);
    check_alignment("hash_table", h);
  }
}

int64_t read_index(const TensorView& t, int64_t i) {
  return t.dtype == DType::I32 ? static_cast<const int32_t*>(t.data)[i * t.strides[0]]
                               : static_cast<const int64_t*>(t.data)[i * t.strides[0]];
}

int64_t read_index(const TensorView& t, int64_t row, int64_t col) {
  const int64_t off = row * t.strides[0] + col * t.strides[1];
  return t.dtype == DType::I32 ? static_cast<const int32_t*>(t.data)[off]
                               : static_cast<const int64_t*>(t.data)[off];
}

void check_hash_values(const RouterConfig& cfg, const TensorView& token_ids,
                       const TensorView& hash_table) {
  const int64_t vocab = hash_table.shape[0];
  for (int64_t n = 0; n < token_ids.shape[0]; ++n) {
    const int64_t t = read_index(token_ids, n);
    if (t < 0 || t >= vocab)
      fail_arg(ErrorCode::InvalidArgument, "token_ids[" + std::to_string(n) + "]",
               "a token id in [0, " + std::to_string(vocab) + ")", t);
    for (int j = 0; j < cfg.top_k; ++j) {
      const int64_t e = read_index(hash_table, t, j);
      if (e < 0 || e >= cfg.experts)
        fail_arg(ErrorCode::InvalidArgument,
                 "hash_table[" + std::to_string(t) + "][" + std::to_string(j) + "]",
                 "an expert id in [0, " + std::to_string(cfg.experts) + ")", e);
    }
  }
}

}  // namespace moerouter
