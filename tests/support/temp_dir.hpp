// A fresh temporary directory per test, removed at the end of its scope.
#pragma once
#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>

namespace moerouter::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    static int counter = 0;  // several per process; the pid keeps parallel ctest processes apart
    path = std::filesystem::temp_directory_path() /
           ("moerouter_" + prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }

  std::filesystem::path path;
};

}  // namespace moerouter::testing
