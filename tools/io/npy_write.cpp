// encode_npy and the atomic writers.
#include <cstring>
#include <set>

#include "io/atomic_file.hpp"
#include "io/npy.hpp"
#include "io/npy_header.hpp"
#include "moerouter/error.hpp"

namespace moerouter::io {

namespace {

int64_t checked_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorCode::InvalidArgument, "npy shape: expected non-negative extents, got ", d);
    n *= d;
  }
  return n;
}

// Preamble and padded header dict; the data follows it directly.
std::vector<std::byte> encode_header(NpyDType dtype, const std::vector<int64_t>& shape) {
  const std::string dict = detail::format_header(descr(dtype), shape);
  // NumPy pads with spaces and ends with '\n' so that the data starts 64-byte aligned.
  size_t preamble = 10;
  size_t header_len = (dict.size() + 1 + preamble + 63) / 64 * 64 - preamble;
  int major = 1;
  if (header_len > 0xFFFF) {
    preamble = 12;
    header_len = (dict.size() + 1 + preamble + 63) / 64 * 64 - preamble;
    major = 2;
  }
  std::vector<std::byte> out(preamble + header_len);
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  std::memcpy(p, "\x93NUMPY", 6);
  p[6] = static_cast<unsigned char>(major);
  p[7] = 0;
  for (size_t i = 0; i < preamble - 8; ++i) p[8 + i] = static_cast<unsigned char>(header_len >> (8 * i));
  std::memcpy(p + preamble, dict.data(), dict.size());
  std::memset(p + preamble + dict.size(), ' ', header_len - dict.size() - 1);
  p[preamble + header_len - 1] = '\n';
  return out;
}

size_t data_bytes(NpyDType dtype, const std::vector<int64_t>& shape, const void* data) {
  const size_t bytes = static_cast<size_t>(checked_numel(shape)) * itemsize(dtype);
  if (bytes && !data)
    fail(ErrorCode::InvalidArgument, "npy data: expected ", bytes, " bytes, got a null pointer");
  return bytes;
}

}  // namespace

std::vector<std::byte> encode_npy(NpyDType dtype, const std::vector<int64_t>& shape,
                                  const void* data) {
  const size_t bytes = data_bytes(dtype, shape, data);
  std::vector<std::byte> out = encode_header(dtype, shape);
  const size_t header = out.size();
  out.resize(header + bytes);
  if (bytes) std::memcpy(out.data() + header, data, bytes);
  return out;
}

void stage_npy(StagedFiles& files, const NpyOutput& o) {
  const size_t bytes = data_bytes(o.dtype, o.shape, o.data);
  const std::vector<std::byte> header = encode_header(o.dtype, o.shape);
  files.add(o.path, {{header.data(), header.size()}, {o.data, bytes}});
}

void write_npy(const NpyOutput& out) { write_npy_all({out}); }

void write_npy(const std::string& path, const TensorView& v) {
  if (v.device != DeviceType::Cpu)
    fail(ErrorCode::DeviceMismatch, "'", path, "': expected a tensor in host memory, got one in ",
         to_string(v.device), " memory");
  if (!v.is_contiguous())
    fail(ErrorCode::LayoutUnsupported, "'", path, "': expected a contiguous C-order tensor, got ",
         "strides that are not");
  NpyOutput o;
  o.path = path;
  o.dtype = from_tensor_dtype(v.dtype);
  o.shape.assign(v.shape, v.shape + v.ndim);
  o.data = v.data;
  write_npy(o);
}

void write_npy_all(const std::vector<NpyOutput>& outputs) {
  std::set<std::string> seen;
  for (const auto& o : outputs)
    if (!seen.insert(o.path).second)
      fail(ErrorCode::InvalidArgument, "output paths: expected distinct files, got '", o.path,
           "' twice");
  StagedFiles files;
  for (const auto& o : outputs) stage_npy(files, o);
  files.commit();
}

}  // namespace moerouter::io
