// Atomic file output: write to a temporary in the destination's directory, rename into place.
// rename() within one directory replaces the destination in one step, so a reader (or a user
// after a crash) sees either the old file, no file, or the complete new one — never a prefix.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace moerouter::io {

// A set of files written together. add() writes each one to its temporary at once (so errors
// like a missing directory surface before anything is committed); commit() renames them all
// into place. Temporaries not committed are removed by the destructor.
class StagedFiles {
 public:
  StagedFiles() = default;
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  ~StagedFiles();

  // A file's contents may come in pieces (a header, then the array's own memory), which
  // saves copying large arrays into one buffer first.
  struct Piece {
    const void* data;
    size_t size;
  };
  void add(const std::string& path, const std::vector<Piece>& pieces);
  void add(const std::string& path, const void* bytes, size_t size) { add(path, {{bytes, size}}); }
  void add(const std::string& path, const std::vector<std::byte>& bytes) {
    add(path, bytes.data(), bytes.size());
  }
  void add(const std::string& path, const std::string& text) { add(path, text.data(), text.size()); }
  void commit();

 private:
  struct Pending {
    std::string final_path;
    std::string temp_path;
  };
  std::vector<Pending> pending_;
};

// One file, atomically. Throws Error(IoError) naming the path.
void write_file_atomic(const std::string& path, const void* bytes, size_t size);

}  // namespace moerouter::io
