// Runs an independent job per row on all cores. The float64 oracle is deliberately scalar and
// slow (tens of ms per dsv4-pro row), so whatever judges many rows (check, the CLI's demo, golden
// and compare) spreads them over every core.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace moerouter::reference {

// fn(i) for i in [0, count), in any order across threads; fn must only touch row i's own
// results. The first exception thrown by any fn is rethrown here after all threads stopped.
template <class Fn>
void parallel_rows(int64_t count, Fn&& fn) {
  const int64_t workers =
      std::min<int64_t>(count, std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto work = [&] {
    for (int64_t i; (i = next.fetch_add(1)) < count;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = count;  // stop handing out rows
      }
    }
  };
  std::vector<std::thread> threads;
  for (int64_t t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace moerouter::reference
