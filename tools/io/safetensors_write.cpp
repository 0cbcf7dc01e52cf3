#include "io/safetensors_write.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <set>

#include "io/atomic_file.hpp"
#include "moerouter/error.hpp"

namespace moerouter::io {

namespace {

uint64_t byte_size(const StTensorOut& t) {
  uint64_t total_bits = static_cast<uint64_t>(bits(t.dtype));
  for (int64_t d : t.shape) {
    if (d < 0) fail(ErrorCode::InvalidArgument, "safetensors '", t.name, "': shape: expected non-negative extents, got ", d);
    total_bits *= static_cast<uint64_t>(d);
  }
  if (total_bits % 8)
    fail(ErrorCode::InvalidArgument, "safetensors '", t.name, "': expected a whole number of bytes, got ",
         total_bits, " bits");
  return total_bits / 8;
}

}  // namespace

std::vector<std::byte> encode_safetensors(const std::vector<StTensorOut>& tensors,
                                          const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__" || !names.insert(t.name).second)
      fail(ErrorCode::InvalidArgument, "safetensors: tensor name '", t.name, "' is reserved or repeated");
    const uint64_t bytes = byte_size(t);
    if (bytes && !t.data) fail(ErrorCode::InvalidArgument, "safetensors '", t.name, "': data is a null pointer");
    header[t.name] = {{"dtype", to_string(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<std::byte> out(8 + text.size() + offset);
  const uint64_t len = text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<std::byte>((len >> (8 * i)) & 0xFF);
  std::memcpy(out.data() + 8, text.data(), text.size());
  std::byte* data = out.data() + 8 + text.size();
  for (const auto& t : tensors) {
    const uint64_t bytes = byte_size(t);
    if (bytes) std::memcpy(data, t.data, static_cast<size_t>(bytes));
    data += bytes;
  }
  return out;
}

void write_safetensors(const std::string& path, const std::vector<StTensorOut>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::vector<std::byte> bytes = encode_safetensors(tensors, metadata);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace moerouter::io
