// Every bad input is an Error with a code and a message naming the argument, expected and actual;
// outputs stay byte-for-byte untouched.
#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
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
  const BadInputCase cuda_claim{"x claiming to be in CUDA memory", ErrorCode::DeviceMismatch,
                                {"x: expected a tensor in cpu memory", "got a tensor in cuda memory"},
                                [](BadInputCall& c, BadInputMemory&) { c.x.device = DeviceType::Cuda; }};
  CHECK(run_bad_input_case(*router, memory, cuda_claim) == "");
}

TEST_CASE("every bad-input case checks the argument, the expected and the actual value", "[cpu][bad-input]") {
  // A part like "x" alone would match any message ("expected" contains an x): each case must
  // check "<argument>: expected <...>" (anchored after the code by run_bad_input_case) and
  // "got <...>".
  const std::vector<BadInputCase> cases = bad_input_cases();
  CHECK(cases.size() >= 40);
  for (const BadInputCase& bad : cases) {
    INFO(bad.name);
    CHECK(std::any_of(bad.parts.begin(), bad.parts.end(), [](const std::string& p) {
      return p.find(": expected ") != std::string::npos && p.find(": expected ") > 0;
    }));
    CHECK(std::any_of(bad.parts.begin(), bad.parts.end(),
                      [](const std::string& p) { return p.rfind("got ", 0) == 0 && p.size() > 4; }));
  }
}

TEST_CASE("bad weights and routing before set_weights are rejected", "[cpu][bad-input]") {
  Fixture f;
  auto fresh = make_router(f.cfg, Device::Cpu);
  require_rejected(f, [&] { fresh->route(f.xv(), f.wo(), f.io()); }, ErrorCode::InvalidArgument,
                   {"invalid_argument: weight: expected set_weights() called before route()",
                    "got a router without weights"});
  require_rejected(f, [&] { fresh->set_weights(TensorView::matrix(f.w.data(), 40, 16)); }, ErrorCode::ShapeMismatch,
                   {"shape_mismatch: weight: expected shape [16, 40]", "got shape [40, 16]"});
  std::vector<float> short_bias(15);
  require_rejected(f, [&] { fresh->set_weights(TensorView::matrix(f.w.data(), 16, 40), TensorView::vector(short_bias.data(), 15)); },
                   ErrorCode::ShapeMismatch, {"shape_mismatch: bias: expected shape [16]", "got shape [15]"});
}

namespace {
// make_router(cfg, Cpu) must throw invalid_argument with exactly this message.
std::string config_rejection(const RouterConfig& cfg) {
  try {
    make_router(cfg, Device::Cpu);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidArgument) return std::string("code ") + to_string(e.code()) + ": " + e.what();
    return e.what();
  }
  return "no error thrown";
}
}  // namespace

TEST_CASE("make_router rejects bad configs and unavailable devices", "[cpu][bad-input]") {
  RouterConfig c = preset("dsv3");
  c.groups = 7;
  CHECK(config_rejection(c) == "invalid_argument: config.groups: expected a divisor of experts = 256, got 7");
  if (!device_available(Device::Cuda)) {
    try {
      make_router(preset("dsv4-pro"), Device::Cuda);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::BackendUnavailable);
#if defined(MOEROUTER_TEST_CUDA)  // the CUDA backend is built, the machine has no device
      CHECK(std::string(e.what()) ==
            "backend_unavailable: device: expected a usable CUDA device, got none found by the CUDA runtime");
#else
      CHECK(std::string(e.what()) == "backend_unavailable: device: expected a backend built into this library "
                                     "(rebuild with MOEROUTER_CUDA=ON), got cuda");
#endif
    }
    CHECK(make_router(preset("dsv4-pro"), Device::Auto)->device() == DeviceType::Cpu);
  }
}

TEST_CASE("make_router names the bad config field with expected and actual", "[cpu][bad-input]") {
  // README "Bad input": k = 0, k > E, k > 32, E > 1024, G does not divide E, topk_groups > G, too
  // few experts left after the group limit, non-finite scale. Base: E = 16, k = 3.
  const RouterConfig base = BadInputCall::config();
  struct Bad {
    const char* name;
    std::function<void(RouterConfig&)> spoil;
    std::string message;  // the whole what()
  };
  const std::string top_k = "invalid_argument: config.top_k: expected 1 <= top_k <= min(experts, 32) = ";
  const std::vector<Bad> bad = {
      {"k = 0", [](RouterConfig& c) { c.top_k = 0; }, top_k + "16, got 0"},
      {"k > E", [](RouterConfig& c) { c.top_k = 17; }, top_k + "16, got 17"},
      {"k > 32", [](RouterConfig& c) { c.experts = 64; c.top_k = 33; }, top_k + "32, got 33"},
      {"E > 1024", [](RouterConfig& c) { c.experts = 1025; },
       "invalid_argument: config.experts: expected 1 <= experts <= 1024, got 1025"},
      {"E = 0", [](RouterConfig& c) { c.experts = 0; },
       "invalid_argument: config.experts: expected 1 <= experts <= 1024, got 0"},
      {"hidden = 0", [](RouterConfig& c) { c.hidden = 0; },
       "invalid_argument: config.hidden: expected hidden >= 1, got 0"},
      {"G does not divide E", [](RouterConfig& c) { c.groups = 3; },
       "invalid_argument: config.groups: expected a divisor of experts = 16, got 3"},
      {"G > E", [](RouterConfig& c) { c.groups = 32; },
       "invalid_argument: config.groups: expected 1 <= groups <= experts = 16, got 32"},
      {"topk_groups > G", [](RouterConfig& c) { c.groups = 4; c.topk_groups = 5; },
       "invalid_argument: config.topk_groups: expected 1 <= topk_groups <= min(groups, 32) = 4, got 5"},
      {"topk_groups = 0", [](RouterConfig& c) { c.groups = 4; c.topk_groups = 0; },
       "invalid_argument: config.topk_groups: expected 1 <= topk_groups <= min(groups, 32) = 4, got 0"},
      {"too few experts after the group limit", [](RouterConfig& c) { c.groups = 8; c.topk_groups = 1; },
       "invalid_argument: config.top_k: expected at most topk_groups * experts/groups = 2 experts left after "
       "the group limit, got 3"},
      {"infinite scale", [](RouterConfig& c) { c.scale = std::numeric_limits<float>::infinity(); },
       "invalid_argument: config.scale: expected a finite number, got inf"},
      {"NaN scale", [](RouterConfig& c) { c.scale = std::numeric_limits<float>::quiet_NaN(); },
       "invalid_argument: config.scale: expected a finite number, got nan"},
  };
  for (const Bad& b : bad) {
    INFO(b.name);
    RouterConfig c = base;
    b.spoil(c);
    CHECK(config_rejection(c) == b.message);
  }
  CHECK(config_rejection(base) == "no error thrown");  // the base is valid
}
