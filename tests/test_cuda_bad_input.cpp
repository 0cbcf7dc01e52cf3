// The bad-input matrix (tests/support/bad_input_cases.hpp) on the CUDA backend with device tensors,
// plus the cases only a device has: host/device mixed placement and a device id that is not the
// router's. Each case: the named error and every device output byte-for-byte untouched.
#include "support/catch.hpp"

#if !defined(MOEROUTER_TEST_CUDA)

TEST_CASE("bad-input matrix on the CUDA backend", "[cuda]") {
  WARN("skipped: CUDA backend not built (no CUDA compiler at configure time)");
}

#else

#include <algorithm>
#include <list>
#include <string>
#include <vector>

#include "moerouter/cuda_testing.hpp"
#include "moerouter/registry.hpp"
#include "support/bad_input_cases.hpp"

using namespace moerouter;
using namespace moerouter::testing;
namespace ct = moerouter::cuda_testing;

namespace {

// Device tensors (with guard zones) for the shared table, plus host ones for mixed placement.
class DeviceMemory : public BadInputMemory {
 public:
  TensorView make(DType dtype, std::vector<int64_t> shape, const std::vector<char>& init) override {
    const size_t bytes = bad_input_bytes(dtype, shape);
    blocks_.emplace_back(bytes);
    ct::DeviceBuffer& b = blocks_.back();
    b.fill(0xA5);
    if (!init.empty()) b.upload(init.data(), std::min(bytes, init.size()));
    return bad_input_view(b.data(), dtype, shape, DeviceType::Cuda, 0);
  }
  std::vector<char> read(const void* p) override {
    for (const ct::DeviceBuffer& b : blocks_) {
      const char* base = static_cast<const char*>(b.data());
      if (p >= base && p < base + b.size()) {
        std::vector<char> bytes = b.to_host<char>();
        bytes.push_back(b.guards_intact() ? 1 : 0);  // a write past the end counts as a write
        return bytes;
      }
    }
    return {};
  }

 private:
  std::list<ct::DeviceBuffer> blocks_;
};

std::unique_ptr<Router> loaded_cuda_router() {
  auto router = make_router(BadInputCall::config(), Device::Cuda);
  const std::vector<float> w = BadInputCall::weight(), b = BadInputCall::bias();
  router->set_weights(TensorView::matrix(w.data(), BadInputCall::kE, BadInputCall::kH),
                      TensorView::vector(b.data(), BadInputCall::kE));
  return router;
}

}  // namespace

TEST_CASE("the bad-input matrix on the CUDA backend with device tensors: named errors, outputs untouched",
          "[cuda][sanitize]") {
  if (!ct::device_present()) {
    WARN("skipped: no CUDA device");
    return;
  }
  auto router = loaded_cuda_router();
  {  // the unspoiled call is valid (else every case would pass for the wrong reason)
    DeviceMemory memory;
    BadInputCall call(memory);
    REQUIRE_NOTHROW(router->route(call.x, call.weights_out, call.ids_out, call.options));
    ct::device_synchronize();
  }
  for (const BadInputCase& bad : bad_input_cases()) {
    DeviceMemory memory;
    INFO(bad.name);
    CHECK(run_bad_input_case(*router, memory, bad) == "");
  }
  // Placement cases only a device has.
  std::vector<BadInputCase> placement;
  placement.push_back({"host weights_out with device x", ErrorCode::DeviceMismatch, {"weights_out", "cuda", "cpu"},
                       [](BadInputCall& c, BadInputMemory&) { c.weights_out.device = DeviceType::Cpu; }});
  placement.push_back({"host counts_out with device x", ErrorCode::DeviceMismatch, {"counts_out", "cuda", "cpu"},
                       [](BadInputCall& c, BadInputMemory&) { c.options.counts_out->device = DeviceType::Cpu; }});
  placement.push_back({"x on another device id", ErrorCode::DeviceMismatch, {"x", "CUDA device 0", "CUDA device 1"},
                       [](BadInputCall& c, BadInputMemory&) { c.x.device_id = 1; }});
  placement.push_back({"logits_out on another device id", ErrorCode::DeviceMismatch, {"logits_out", "CUDA device 1"},
                       [](BadInputCall& c, BadInputMemory&) { c.options.logits_out->device_id = 1; }});
  placement.push_back({"expert_offsets_out on another device id", ErrorCode::DeviceMismatch,
                       {"expert_offsets_out", "CUDA device 0", "CUDA device 1"},
                       [](BadInputCall& c, BadInputMemory&) { c.options.expert_offsets_out->device_id = 1; }});
  placement.push_back({"token_slots_out on another device id", ErrorCode::DeviceMismatch,
                       {"token_slots_out", "CUDA device 0", "CUDA device 1"},
                       [](BadInputCall& c, BadInputMemory&) { c.options.token_slots_out->device_id = 1; }});
  for (const BadInputCase& bad : placement) {
    DeviceMemory memory;
    INFO(bad.name);
    CHECK(run_bad_input_case(*router, memory, bad) == "");
  }
}

TEST_CASE("CUDA: route before set_weights and bad weights are rejected, nothing written", "[cuda]") {
  if (!ct::device_present()) {
    WARN("skipped: no CUDA device");
    return;
  }
  auto fresh = make_router(BadInputCall::config(), Device::Cuda);
  DeviceMemory memory;
  const BadInputCase none{"route before set_weights", ErrorCode::InvalidArgument, {"set_weights"},
                          [](BadInputCall&, BadInputMemory&) {}};
  CHECK(run_bad_input_case(*fresh, memory, none) == "");
  const std::vector<float> w = BadInputCall::weight();
  try {
    fresh->set_weights(TensorView::matrix(w.data(), BadInputCall::kH, BadInputCall::kE));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::ShapeMismatch);
    CHECK(std::string(e.what()).find("[16, 40]") != std::string::npos);
  }
  std::vector<float> short_bias(15);
  try {
    fresh->set_weights(TensorView::matrix(w.data(), BadInputCall::kE, BadInputCall::kH),
                       TensorView::vector(short_bias.data(), 15));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::ShapeMismatch);
    CHECK(std::string(e.what()).find("bias") != std::string::npos);
  }
  CHECK(run_bad_input_case(*fresh, memory, none) == "");  // still not loaded after the failures
}

#endif
