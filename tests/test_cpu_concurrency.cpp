// One CPU router shared by 8 host threads gives the serial results bit for bit; set_weights while
// other threads route is safe (documented: calls in flight finish with the weights they started
// with, later calls see the new ones).
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "moerouter/reference/generate.hpp"
#include "moerouter/registry.hpp"
#include "support/catch.hpp"
#include "support/problem_routing.hpp"

using namespace moerouter;
using namespace moerouter::testing;

namespace {
bool same(const Routed& a, const Routed& b) {
  return a.ids == b.ids && std::memcmp(a.weights.data(), b.weights.data(), a.weights.size() * 4) == 0 &&
         std::memcmp(a.logits.data(), b.logits.data(), a.logits.size() * 4) == 0;
}
}  // namespace

TEST_CASE("8 host threads sharing one CPU router give the serial results", "[cpu][concurrency]") {
  const RouterConfig cfg = preset("dsv4-flash");
  std::vector<reference::Problem> problems;
  for (int t = 0; t < 8; ++t)
    problems.push_back(reference::generate(cfg, 37 + 11 * t, reference::InputKind::Random, 100 + t, DType::BF16));
  auto router = make_router(cfg, Device::Cpu);
  router->set_weights(problems[0].w_view(), problems[0].bias_view());
  std::vector<Routed> serial;
  for (const auto& p : problems) {
    RouteOptions o;
    o.threads = 1;
    serial.push_back(route_problem(*router, p, o));
  }
  std::vector<Routed> parallel(8);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      try {
        for (int repeat = 0; repeat < 3; ++repeat) {
          RouteOptions o;
          o.threads = 1 + (t % 2);  // thread counts differ: the bits must not
          parallel[t] = route_problem(*router, problems[t], o);
          if (!same(parallel[t], serial[t])) ++failures;
        }
      } catch (...) {
        ++failures;
      }
    });
  for (auto& th : threads) th.join();
  REQUIRE(failures == 0);
}

TEST_CASE("set_weights while other threads route is safe", "[cpu][concurrency]") {
  RouterConfig cfg = preset("mixtral");
  const reference::Problem a = reference::generate(cfg, 64, reference::InputKind::Random, 1);
  const reference::Problem b = reference::generate(cfg, 64, reference::InputKind::Random, 2);
  auto router = make_router(cfg, Device::Cpu);
  router->set_weights(a.w_view(), a.bias_view());
  const Routed with_a = route_problem(*router, a);
  router->set_weights(b.w_view(), b.bias_view());
  const Routed with_b = route_problem(*router, a);  // a's x through b's gate
  REQUIRE(!same(with_a, with_b));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, routed{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      while (!stop) {
        const Routed r = route_problem(*router, a);
        if (!same(r, with_a) && !same(r, with_b)) ++bad;  // never a mix of the two gates
        ++routed;
      }
    });
  for (int i = 0; i < 50; ++i) {
    router->set_weights((i % 2 ? a : b).w_view(), (i % 2 ? a : b).bias_view());
    std::this_thread::yield();
  }
  while (routed < 20) std::this_thread::yield();
  stop = true;
  for (auto& th : readers) th.join();
  REQUIRE(bad == 0);
}
