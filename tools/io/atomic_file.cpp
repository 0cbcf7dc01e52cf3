#include "io/atomic_file.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "moerouter/error.hpp"

namespace moerouter::io {

namespace {

// Unique per process and per call, so concurrent writers (tests run in parallel) never collide.
std::string temp_path_for(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" +
         std::to_string(counter.fetch_add(1));
}

void write_whole_file(const std::string& path, const std::string& shown_as,
                      const std::vector<StagedFiles::Piece>& pieces) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f)
    fail(ErrorCode::IoError, "cannot create '", shown_as, "': ", std::strerror(errno));
  size_t size = 0, written = 0;
  for (const auto& piece : pieces) size += piece.size;
  int write_errno = 0;
  for (const auto& piece : pieces) {
    const size_t w = piece.size ? std::fwrite(piece.data, 1, piece.size, f) : 0;
    written += w;
    if (w != piece.size) {
      write_errno = errno;
      break;
    }
  }
  const bool closed = std::fclose(f) == 0;
  if (written != size || !closed) {
    std::remove(path.c_str());
    fail(ErrorCode::IoError, "cannot write '", shown_as, "': expected ", size, " bytes written, got ",
         written, " (", std::strerror(written != size ? write_errno : errno), ")");
  }
}

void rename_into_place(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::rename(from, to, ec);
  if (ec) {
    std::remove(from.c_str());
    fail(ErrorCode::IoError, "cannot move the finished output into place as '", to, "': ",
         ec.message());
  }
}

}  // namespace

StagedFiles::~StagedFiles() {
  for (const auto& p : pending_) std::remove(p.temp_path.c_str());
}

void StagedFiles::add(const std::string& path, const std::vector<Piece>& pieces) {
  if (std::filesystem::is_directory(path))
    fail(ErrorCode::IoError, "cannot write '", path, "': expected a file path, got a directory");
  Pending p{path, temp_path_for(path)};
  write_whole_file(p.temp_path, path, pieces);
  pending_.push_back(std::move(p));
}

void StagedFiles::commit() {
  // Once the first rename happened, a later failure can no longer be undone; every file is
  // already complete at that point, so the worst case is a mix of new and old whole files.
  while (!pending_.empty()) {
    Pending p = pending_.front();
    pending_.erase(pending_.begin());
    rename_into_place(p.temp_path, p.final_path);
  }
}

void write_file_atomic(const std::string& path, const void* bytes, size_t size) {
  StagedFiles files;
  files.add(path, bytes, size);
  files.commit();
}

}  // namespace moerouter::io
