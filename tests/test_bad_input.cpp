// Every bad input is an Error with a code and a message naming the argument, expected and actual;
// outputs stay byte-for-byte untouched.
#include <algorithm>
#include <cstring>
#include <list>
#include <string>
#include <vector>

#include "moerouter/error.hpp"
#include "moerouter/registry.hpp"
#include "support/bad_input_cases.hpp"
#include "support/catch.hpp"
#include "support/test_data.hpp"

using namespace moerouter;
using namespace moerouter::testing;

namespace {

struct Fixture {
  RouterConfig cfg;
  int64_t n = 6;
  std::vector<float> w, bias, x;
  std::unique_ptr<Router> router;
  Outputs out;
  Fixture() : out(6, 3) {
    cfg.hidden = 40;
    cfg.experts = 16;
    cfg.top_k = 3;
    cfg.score = ScoreFn::Sigmoid;
    w = uniform_vector(16 * 40, -0.3f, 0.3f, 1);
    bias = uniform_vector(16, -0.1f, 0.1f, 2);
    x = uniform_vector(6 * 40, -1, 1, 3);
    router = make_router(cfg, Device::Cpu);
    router->set_weights(TensorView::matrix(w.data(), 16, 40), TensorView::vector(bias.data(), 16));
  }
  TensorView xv() { return TensorView::matrix(x.data(), n, 40); }
  TensorView wo() { return out.w_view(n, 3); }
  TensorView io() { return out.i_view(n, 3); }
};

// Calls route and requires an Error with `code` whose message contains every `parts` string,
// and that the outputs were not touched.
template <class Call>
void require_rejected(Fixture& f, Call call, ErrorCode code, std::vector<std::string> parts) {
  const Outputs before = f.out;
  try {
    call();
    FAIL("no error thrown");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(e.code() == code);
    for (const auto& p : parts) CHECK(msg.find(p) != std::string::npos);
    CHECK(msg.find("expected") != std::string::npos);
  }
  REQUIRE(f.out == before);
}

}  // namespace

namespace {

// Host tensors for the shared bad-input table: 64-byte aligned allocations kept until the end.
class HostMemory : public BadInputMemory {
 public:
  TensorView make(DType dtype, std::vector<int64_t> shape, const std::vector<char>& init) override {
    const size_t bytes = bad_input_bytes(dtype, shape);
    blocks_.emplace_back(bytes + 64, static_cast<char>(0xA5));
    std::vector<char>& b = blocks_.back();
    char* p = b.data() + (64 - reinterpret_cast<uintptr_t>(b.data()) % 64) % 64;
    if (!init.empty()) std::memcpy(p, init.data(), std::min(bytes, init.size()));
    return bad_input_view(p, dtype, shape, DeviceType::Cpu, 0);
  }
  std::vector<char> read(const void* p) override {
    for (const std::vector<char>& b : blocks_)
      if (p >= b.data() && p < b.data() + b.size()) return b;
    return {};
  }

 private:
  std::list<std::vector<char>> blocks_;  // a list: the blocks never move
};

}  // namespace

TEST_CASE("the bad-input matrix on the CPU: named errors, outputs untouched", "[cpu][bad-input]") {
  auto router = make_router(BadInputCall::config(), Device::Cpu);
  const std::vector<float> w = BadInputCall::weight(), b = BadInputCall::bias();
  router->set_weights(TensorView::matrix(w.data(), BadInputCall::kE, BadInputCall::kH),
                      TensorView::vector(b.data(), BadInputCall::kE));
  {  // the unspoiled call is valid (else every case would pass for the wrong reason)
    HostMemory memory;
    BadInputCall call(memory);
    REQUIRE_NOTHROW(router->route(call.x, call.weights_out, call.ids_out, call.options));
  }
  for (const BadInputCase& bad : bad_input_cases()) {
    HostMemory memory;
    INFO(bad.name);
    CHECK(run_bad_input_case(*router, memory, bad) == "");
  }
  HostMemory memory;
  const BadInputCase cuda_claim{"x claiming to be in CUDA memory", ErrorCode::DeviceMismatch, {"x", "cpu", "cuda"},
                                [](BadInputCall& c, BadInputMemory&) { c.x.device = DeviceType::Cuda; }};
  CHECK(run_bad_input_case(*router, memory, cuda_claim) == "");
}

TEST_CASE("bad weights and routing before set_weights are rejected", "[cpu][bad-input]") {
  Fixture f;
  auto fresh = make_router(f.cfg, Device::Cpu);
  require_rejected(f, [&] { fresh->route(f.xv(), f.wo(), f.io()); }, ErrorCode::InvalidArgument, {"set_weights"});
  require_rejected(f, [&] { fresh->set_weights(TensorView::matrix(f.w.data(), 40, 16)); }, ErrorCode::ShapeMismatch, {"weight", "[16, 40]", "[40, 16]"});
  std::vector<float> short_bias(15);
  require_rejected(f, [&] { fresh->set_weights(TensorView::matrix(f.w.data(), 16, 40), TensorView::vector(short_bias.data(), 15)); },
                   ErrorCode::ShapeMismatch, {"bias", "[16]", "[15]"});
}

TEST_CASE("make_router rejects bad configs and unavailable devices", "[cpu][bad-input]") {
  RouterConfig c = preset("dsv3");
  c.groups = 7;
  CHECK_THROWS_AS(make_router(c, Device::Cpu), Error);
  if (!device_available(Device::Cuda)) {
    try {
      make_router(preset("dsv4-pro"), Device::Cuda);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::BackendUnavailable);
    }
    CHECK(make_router(preset("dsv4-pro"), Device::Auto)->device() == DeviceType::Cpu);
  }
}
