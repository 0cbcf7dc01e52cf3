#include "io/safetensors.hpp"

#include <cstring>
#include <sstream>
#include <string_view>
#include <utility>

#include "io/mapped_file.hpp"
#include "moerouter/error.hpp"

namespace moerouter::io {

std::string CheckpointTensor::shape_string() const {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<const MappedFile> map = MappedFile::open(path);
  const std::byte* data = map->data();
  const uint64_t size = map->size();
  return from_memory(std::move(map), data, size, path);
}

SafetensorsFile SafetensorsFile::from_memory(std::shared_ptr<const void> owner, const std::byte* data,
                                             uint64_t size, const std::string& name) {
  SafetensorsFile f;
  f.path_ = name;
  f.storage_ = std::move(owner);
  f.bytes_ = data;
  const std::string label = "'" + name + "'";
  if (size < 8)
    fail(ErrorCode::IoError, label, ": truncated: expected at least the 8-byte header length, got ",
         size, " bytes (not a safetensors file?)");
  uint64_t header_len = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(p[i]) << (8 * i);
  if (header_len > size - 8)
    fail(ErrorCode::IoError, label, ": header length past end of file: the first 8 bytes declare ",
         header_len, " header bytes, the file has ", size - 8, " after them (truncated, or not a ",
         "safetensors file)");
  if (header_len > kMaxSafetensorsHeader)
    fail(ErrorCode::IoError, label, ": header length ", header_len, " exceeds the limit of ",
         kMaxSafetensorsHeader, " bytes");
  f.data_offset_ = 8 + header_len;
  const std::string_view text(reinterpret_cast<const char*>(p + 8), static_cast<size_t>(header_len));
  f.header_ = detail::parse_safetensors_header(text, size - f.data_offset_, label);
  return f;
}

CheckpointTensor SafetensorsFile::info(const std::string& name) const {
  const StTensorInfo* t = find(name);
  if (!t) fail(ErrorCode::IoError, "'", path_, "': no tensor named '", name, "'");
  return {t->name, path_, t->dtype, t->shape};
}

HostTensor SafetensorsFile::load(const std::string& name) const {
  const StTensorInfo* t = find(name);
  if (!t) fail(ErrorCode::IoError, "'", path_, "': no tensor named '", name, "'");
  const auto dtype = router_dtype(t->dtype);
  if (!dtype)
    fail(ErrorCode::IoError, "'", path_, "': tensor '", name, "': dtype: expected F32, BF16, I32 ",
         "or I64, got ", to_string(t->dtype));
  if (t->shape.size() > static_cast<size_t>(kMaxRank))
    fail(ErrorCode::IoError, "'", path_, "': tensor '", name, "': rank: expected at most ", kMaxRank,
         " dims, got ", t->shape.size());

  HostTensor h;
  h.info = info(name);
  const std::byte* src = bytes_ + data_offset_ + t->begin;
  const size_t align = dtype_size(*dtype);
  if (reinterpret_cast<uintptr_t>(src) % align == 0) {
    h.storage = storage_;
  } else {
    // Element types want natural alignment (vector loads, and the language's rules for float*).
    auto copy = std::shared_ptr<std::byte[]>(new std::byte[t->bytes() ? t->bytes() : 1]);
    std::memcpy(copy.get(), src, static_cast<size_t>(t->bytes()));
    src = copy.get();
    h.storage = std::shared_ptr<const void>(copy, copy.get());
  }
  TensorView& v = h.view;
  v.data = const_cast<std::byte*>(src);  // read-only memory: routers only read their inputs
  v.dtype = *dtype;
  v.ndim = static_cast<int>(t->shape.size());
  int64_t stride = 1;
  for (int i = v.ndim - 1; i >= 0; --i) {
    v.shape[i] = t->shape[static_cast<size_t>(i)];
    v.strides[i] = stride;
    stride *= v.shape[i];
  }
  return h;
}

}  // namespace moerouter::io
