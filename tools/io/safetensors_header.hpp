// The safetensors header: an 8-byte little-endian length, then a JSON object mapping each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the first byte
// after the header), plus an optional "__metadata__" object of strings. This part parses and
// validates it; safetensors.hpp maps the file.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moerouter/tensor.hpp"

namespace moerouter::io {

// Every dtype the format defines, so any valid file (FP8 experts, int8 tables, ...) can be opened
// and sized. Only F32, BF16, I32 and I64 can be loaded as router tensors (router_dtype()).
enum class StDType {
  BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F4, F6_E2M3, F6_E3M2,
  I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64, C64,
};

const char* to_string(StDType t) noexcept;        // as in the file: "BF16"
int bits(StDType t) noexcept;                      // 4, 6, 8, 16, 32 or 64
std::optional<StDType> parse_st_dtype(std::string_view s);
std::optional<DType> router_dtype(StDType t) noexcept;

// The safetensors library's own limit; a larger length is a corrupt or hostile file.
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct StTensorInfo {
  std::string name;
  StDType dtype = StDType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range in the data section (after the header)

  int64_t numel() const;
  uint64_t bytes() const { return end - begin; }
  std::string shape_string() const;  // "[256, 7168]"
};

struct StHeader {
  std::vector<StTensorInfo> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
  const StTensorInfo* find(const std::string& name) const;
};

namespace detail {
// `json`: the header text; `data_size`: bytes after the header. Throws Error(IoError) starting
// with `label` (the file) and naming the tensor and the problem: malformed JSON, a repeated
// name, a missing or mistyped field, an unknown dtype, a negative or non-integer extent,
// end < begin, a range past the data, a byte size that is not product(shape) * dtype size,
// two ranges that overlap. Gaps between ranges are allowed (alignment padding).
StHeader parse_safetensors_header(std::string_view json, uint64_t data_size, const std::string& label);
}  // namespace detail

}  // namespace moerouter::io
