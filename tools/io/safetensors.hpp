// Reading tensors straight from .safetensors files: the header is parsed and checked once
// (safetensors_header.hpp), the data is memory-mapped, and a loaded tensor is a view into the
// mapping (no copy) that keeps the mapping alive.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors_header.hpp"
#include "moerouter/tensor.hpp"

namespace moerouter::io {

// A tensor located in a checkpoint: which file holds it, its dtype and shape.
struct CheckpointTensor {
  std::string name;
  std::string file;
  StDType dtype = StDType::F32;
  std::vector<int64_t> shape;
  std::string shape_string() const;  // "[256, 7168]"
};

// A tensor ready for the router: `view` is a contiguous host view (F32, BF16, I32 or I64) into
// the mapped file, or into an aligned copy when the file's data is not aligned to the element
// size (the format only promises byte offsets). `storage` keeps whichever alive; copies of a
// HostTensor share it. The view's memory is read-only.
struct HostTensor {
  CheckpointTensor info;
  TensorView view;
  std::shared_ptr<const void> storage;
};

class SafetensorsFile {
 public:
  // Maps the file and validates its header. Throws Error(IoError) naming the file and the
  // problem: shorter than 8 bytes, a header length past the end of the file or above
  // kMaxSafetensorsHeader, and everything parse_safetensors_header rejects.
  static SafetensorsFile open(const std::string& path);
  // The same checks over a file image already in memory: `size` bytes at `data`, not copied.
  // `owner` keeps them alive for as long as the SafetensorsFile or any tensor loaded from it
  // (null: the caller guarantees that). `name` stands for the path in messages and infos.
  static SafetensorsFile from_memory(std::shared_ptr<const void> owner, const std::byte* data,
                                     uint64_t size, const std::string& name);

  const std::string& path() const { return path_; }
  const std::vector<StTensorInfo>& tensors() const { return header_.tensors; }  // by name
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const StTensorInfo* find(const std::string& name) const { return header_.find(name); }
  CheckpointTensor info(const std::string& name) const;  // throws IoError when absent

  // Throws IoError when the tensor is absent or its dtype is not F32, BF16, I32 or I64.
  HostTensor load(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::shared_ptr<const void> storage_;  // keeps `bytes_` alive: the mapping, or the caller's owner
  const std::byte* bytes_ = nullptr;     // the whole file image (its size checked at parse time)
  uint64_t data_offset_ = 0;  // 8 + header length
  StHeader header_;
};

}  // namespace moerouter::io
