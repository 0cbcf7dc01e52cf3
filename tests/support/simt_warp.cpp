// The fiber scheduler behind simt_warp.hpp.
#include "support/simt_warp.hpp"

#include <ucontext.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

namespace simt {

namespace {

constexpr int kLanes = 32;
constexpr size_t kStackBytes = 256 * 1024;

struct Warp {
  ucontext_t main{};
  ucontext_t lanes[kLanes]{};
  std::vector<std::unique_ptr<char[]>> stacks;
  const std::function<void()>* body = nullptr;
  int current = 0;
  uint64_t buffers[2][kLanes]{};
  long collectives[kLanes]{};
  bool failed = false;
};

Warp* g_warp = nullptr;  // the warp being run (run() is not reentrant)

// Hands over from the current lane to `to` (the main context when to == kLanes).
void switch_to(int to) {
  Warp& w = *g_warp;
  ucontext_t* from = &w.lanes[w.current];
  w.current = to;
  swapcontext(from, to == kLanes ? &w.main : &w.lanes[to]);
}

void lane_entry() {
  Warp& w = *g_warp;
  try {
    (*w.body)();
  } catch (...) {
    w.failed = true;  // an exception cannot cross a fiber boundary: reported by run()
  }
  switch_to(w.current + 1);  // the last lane returns to main
}

}  // namespace

int lane() { return g_warp ? g_warp->current : 0; }

void exchange_bits(uint64_t v, uint64_t (&all)[32]) {
  Warp& w = *g_warp;
  const int me = w.current;
  const long phase = w.collectives[me]++;
  uint64_t* buf = w.buffers[phase & 1];
  buf[me] = v;
  switch_to(me + 1 < kLanes ? me + 1 : 0);  // lane 31 hands back to lane 0: all 32 have posted
  for (int i = 0; i < kLanes; ++i) all[i] = buf[i];
}

void run(const std::function<void()>& body) {
  if (g_warp) throw std::logic_error("simt::run is not reentrant");
  Warp w;
  w.body = &body;
  for (int i = 0; i < kLanes; ++i) {
    w.stacks.emplace_back(new char[kStackBytes]);
    getcontext(&w.lanes[i]);
    w.lanes[i].uc_stack.ss_sp = w.stacks.back().get();
    w.lanes[i].uc_stack.ss_size = kStackBytes;
    w.lanes[i].uc_link = nullptr;
    makecontext(&w.lanes[i], lane_entry, 0);
  }
  g_warp = &w;
  w.current = 0;
  swapcontext(&w.main, &w.lanes[0]);
  g_warp = nullptr;
  if (w.failed) throw std::runtime_error("simt::run: a lane threw");
  for (int i = 1; i < kLanes; ++i)
    if (w.collectives[i] != w.collectives[0])
      throw std::logic_error("simt::run: lanes passed different numbers of collectives (divergent warp)");
}

}  // namespace simt
