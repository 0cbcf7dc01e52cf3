// A one-line progress bar on stderr for long oracle runs. Drawn only when stderr is a terminal
// (never into logs, pipes or test output), only once a run has taken half a second, and redrawn
// at most ten times a second. update() may be called from several threads.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace moerouter::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar();  // erases the bar, so the report that follows starts on a clean line

  void update(int64_t done);

 private:
  void draw(int64_t done);
  std::string label_;
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
  std::mutex mutex_;
};

}  // namespace moerouter::cli
