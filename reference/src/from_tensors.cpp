#include "moerouter/reference/from_tensors.hpp"

#include <string>

#include "moerouter/error.hpp"

namespace moerouter::reference {

namespace {

void check_view(const TensorView& v, const char* what, int ndim) {
  if (v.device != DeviceType::Cpu)
    fail_arg(ErrorCode::DeviceMismatch, what, "host memory", std::string(to_string(v.device)) + " memory");
  if (v.ndim != ndim)
    fail_arg(ErrorCode::ShapeMismatch, what, std::to_string(ndim) + " dims", std::to_string(v.ndim) +
             " dims " + v.shape_string());
  if (v.numel() > 0 && !v.data) fail_arg(ErrorCode::InvalidArgument, what, "data", "a null pointer");
}

void check_extent(const TensorView& v, const char* what, int dim, int64_t expected) {
  if (v.shape[dim] != expected)
    fail(ErrorCode::ShapeMismatch, what, ": shape: expected extent ", expected, " in dim ", dim,
         ", got ", v.shape_string());
}

// Element (i, j) of a rank-1 (j ignored) or rank-2 view, by strides.
const char* element(const TensorView& v, int64_t i, int64_t j) {
  const int64_t offset = i * v.strides[0] + (v.ndim > 1 ? j * v.strides[1] : 0);
  return static_cast<const char*>(v.data) + offset * static_cast<int64_t>(dtype_size(v.dtype));
}

// F32 or BF16 values into a dense row-major float vector (BF16 widening is exact).
std::vector<float> floats_of(const TensorView& v, const char* what) {
  if (v.dtype != DType::F32 && v.dtype != DType::BF16)
    fail_arg(ErrorCode::DtypeMismatch, what, "float32 or bfloat16", to_string(v.dtype));
  const int64_t rows = v.shape[0], cols = v.ndim > 1 ? v.shape[1] : 1;
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const char* p = element(v, i, j);
      float f;
      if (v.dtype == DType::F32) {
        __builtin_memcpy(&f, p, 4);
      } else {
        uint16_t b;
        __builtin_memcpy(&b, p, 2);
        f = bf16_to_float(b);
      }
      out[static_cast<size_t>(i * cols + j)] = f;
    }
  return out;
}

// I32 or I64 values checked against [0, limit).
std::vector<int32_t> ids_of(const TensorView& v, const char* what, int64_t limit) {
  if (v.dtype != DType::I32 && v.dtype != DType::I64)
    fail_arg(ErrorCode::DtypeMismatch, what, "int32 or int64", to_string(v.dtype));
  const int64_t rows = v.shape[0], cols = v.ndim > 1 ? v.shape[1] : 1;
  std::vector<int32_t> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const char* p = element(v, i, j);
      int64_t value;
      if (v.dtype == DType::I32) {
        int32_t t;
        __builtin_memcpy(&t, p, 4);
        value = t;
      } else {
        __builtin_memcpy(&value, p, 8);
      }
      if (value < 0 || value >= limit)
        fail(ErrorCode::InvalidArgument, what, "[", i, v.ndim > 1 ? "][" + std::to_string(j) : "",
             "]: expected a value in [0, ", limit, "), got ", value);
      out[static_cast<size_t>(i * cols + j)] = static_cast<int32_t>(value);
    }
  return out;
}

}  // namespace

Problem problem_from_tensors(const RouterConfig& cfg, const TensorView& x, const TensorView& weight,
                             const std::optional<TensorView>& bias,
                             const std::optional<TensorView>& token_ids,
                             const std::optional<TensorView>& hash_table) {
  validate(cfg);
  check_view(x, "x", 2);
  check_extent(x, "x", 1, cfg.hidden);
  check_view(weight, "weight", 2);
  check_extent(weight, "weight", 0, cfg.experts);
  check_extent(weight, "weight", 1, cfg.hidden);
  if (token_ids.has_value() != hash_table.has_value())
    fail_arg(ErrorCode::InvalidArgument, token_ids ? "hash_table" : "token_ids",
             "token_ids and hash_table together", "only one of them");

  Problem p;
  p.cfg = cfg;
  p.n = x.shape[0];
  p.dtype = DType::F32;
  p.x = floats_of(x, "x");
  p.w = floats_of(weight, "weight");
  if (bias) {
    check_view(*bias, "bias", 1);
    check_extent(*bias, "bias", 0, cfg.experts);
    p.bias = floats_of(*bias, "bias");
  }
  if (token_ids) {
    check_view(*hash_table, "hash_table", 2);
    check_extent(*hash_table, "hash_table", 1, cfg.top_k);
    check_view(*token_ids, "token_ids", 1);
    check_extent(*token_ids, "token_ids", 0, p.n);
    p.vocab = hash_table->shape[0];
    p.hash_table = ids_of(*hash_table, "hash_table", cfg.experts);
    p.token_ids = ids_of(*token_ids, "token_ids", p.vocab);
  }
  return p;
}

}  // namespace moerouter::reference
