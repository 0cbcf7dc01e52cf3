// A small .safetensors writer: tests build checkpoints with it, and it lets tools export tensors
// in the format the reader accepts.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors_header.hpp"

namespace moerouter::io {

struct StTensorOut {
  std::string name;
  StDType dtype = StDType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // product(shape) * bits(dtype) / 8 bytes, C order
};

// The file image: header length, JSON header padded with spaces so the data starts 8-byte
// aligned (as the reference writer does), then each tensor's bytes in the order given.
std::vector<std::byte> encode_safetensors(const std::vector<StTensorOut>& tensors,
                                          const std::map<std::string, std::string>& metadata = {});

// Atomic (io/atomic_file.hpp). Throws Error(IoError) naming the path, InvalidArgument for a
// repeated name, a negative extent or a fractional byte size.
void write_safetensors(const std::string& path, const std::vector<StTensorOut>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace moerouter::io
