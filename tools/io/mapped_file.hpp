// A whole file mapped read-only into memory. Checkpoint shards are gigabytes; mapping them costs
// nothing until a page is touched, so reading one gate tensor reads only its own pages.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace moerouter::io {

class MappedFile {
 public:
  // Throws Error(IoError) naming the path: missing, a directory, not a regular file, mmap failed.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  const std::byte* data() const { return data_; }  // nullptr for an empty file

 private:
  MappedFile() = default;
  std::string path_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace moerouter::io
