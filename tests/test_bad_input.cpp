// Every bad input is an Error with a code and a message naming the argument, expected and actual;
// outputs stay byte-for-byte untouched.
#include <string>
#include <vector>

#include "moerouter/error.hpp"
#include "moerouter/registry.hpp"
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

TEST_CASE("bad tensors are rejected with named errors and untouched outputs", "[cpu][bad-input]") {
  Fixture f;
  SECTION("x of rank 1") {
    TensorView x = TensorView::vector(f.x.data(), 240);
    require_rejected(f, [&] { f.router->route(x, f.wo(), f.io()); }, ErrorCode::ShapeMismatch, {"x", "2 dims", "1 dims"});
  }
  SECTION("x with the wrong hidden size") {
    TensorView x = TensorView::matrix(f.x.data(), 6, 39);
    require_rejected(f, [&] { f.router->route(x, f.wo(), f.io()); }, ErrorCode::ShapeMismatch, {"x", "40", "39"});
  }
  SECTION("x of an unsupported dtype") {
    TensorView x = f.xv();
    x.dtype = DType::I32;
    require_rejected(f, [&] { f.router->route(x, f.wo(), f.io()); }, ErrorCode::DtypeMismatch, {"x", "int32"});
  }
  SECTION("weights_out with the wrong shape") {
    TensorView wo = TensorView::matrix(f.out.weights.data(), DType::F32, 6, 2);
    require_rejected(f, [&] { f.router->route(f.xv(), wo, f.io()); }, ErrorCode::ShapeMismatch, {"weights_out", "[6, 3]", "[6, 2]"});
  }
  SECTION("ids_out of dtype int64") {
    TensorView io = f.io();
    io.dtype = DType::I64;
    require_rejected(f, [&] { f.router->route(f.xv(), f.wo(), io); }, ErrorCode::DtypeMismatch, {"ids_out", "int32", "int64"});
  }
  SECTION("ids_out with N rows of another batch") {
    TensorView io = TensorView::matrix(f.out.ids.data(), DType::I32, 5, 3);
    require_rejected(f, [&] { f.router->route(f.xv(), f.wo(), io); }, ErrorCode::ShapeMismatch, {"ids_out", "[6, 3]", "[5, 3]"});
  }
  SECTION("null data with N > 0") {
    TensorView x = TensorView::matrix(static_cast<float*>(nullptr), 6, 40);
    require_rejected(f, [&] { f.router->route(x, f.wo(), f.io()); }, ErrorCode::InvalidArgument, {"x", "null"});
  }
  SECTION("non-contiguous output") {
    TensorView wo = f.wo();
    wo.strides[0] = 4;
    require_rejected(f, [&] { f.router->route(f.xv(), wo, f.io()); }, ErrorCode::LayoutUnsupported, {"weights_out", "contiguous"});
  }
  SECTION("x with a column stride") {
    TensorView x = f.xv();
    x.strides[1] = 2;
    require_rejected(f, [&] { f.router->route(x, f.wo(), f.io()); }, ErrorCode::LayoutUnsupported, {"x", "stride"});
  }
  SECTION("misaligned x") {
    TensorView x = f.xv();
    x.data = reinterpret_cast<char*>(f.x.data()) + 1;
    require_rejected(f, [&] { f.router->route(x, f.wo(), f.io()); }, ErrorCode::LayoutUnsupported, {"x", "aligned"});
  }
  SECTION("tensor claiming to be in CUDA memory") {
    TensorView x = f.xv();
    x.device = DeviceType::Cuda;
    require_rejected(f, [&] { f.router->route(x, f.wo(), f.io()); }, ErrorCode::DeviceMismatch, {"x", "cpu", "cuda"});
  }
  SECTION("counts of the wrong length") {
    std::vector<int32_t> counts(15);
    RouteOptions o;
    o.counts_out = TensorView::vector(counts.data(), 15);
    require_rejected(f, [&] { f.router->route(f.xv(), f.wo(), f.io(), o); }, ErrorCode::ShapeMismatch, {"counts_out", "[16]", "[15]"});
  }
  SECTION("negative threads") {
    RouteOptions o;
    o.threads = -1;
    require_rejected(f, [&] { f.router->route(f.xv(), f.wo(), f.io(), o); }, ErrorCode::InvalidArgument, {"threads", "-1"});
  }
}

TEST_CASE("bad hash routing inputs are rejected before anything is written", "[cpu][bad-input]") {
  Fixture f;
  std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 1};
  std::vector<int32_t> table(5 * 3);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i % 16);
  RouteOptions o;
  o.token_ids = TensorView::vector(tokens.data(), 6);
  o.hash_table = TensorView::matrix(table.data(), 5, 3);
  SECTION("token id >= vocab") {
    tokens[4] = 5;
    require_rejected(f, [&] { f.router->route(f.xv(), f.wo(), f.io(), o); }, ErrorCode::InvalidArgument, {"token_ids[4]", "[0, 5)", "got 5"});
  }
  SECTION("negative token id") {
    tokens[2] = -1;
    require_rejected(f, [&] { f.router->route(f.xv(), f.wo(), f.io(), o); }, ErrorCode::InvalidArgument, {"token_ids[2]", "got -1"});
  }
  SECTION("table entry out of range") {
    table[3 * 3 + 1] = 16;
    require_rejected(f, [&] { f.router->route(f.xv(), f.wo(), f.io(), o); }, ErrorCode::InvalidArgument, {"hash_table[3][1]", "[0, 16)", "got 16"});
  }
  SECTION("table of the wrong width") {
    o.hash_table = TensorView::matrix(table.data(), 3, 5);
    require_rejected(f, [&] { f.router->route(f.xv(), f.wo(), f.io(), o); }, ErrorCode::ShapeMismatch, {"hash_table", "[3, 5]"});
  }
  SECTION("token ids without a table") {
    o.hash_table.reset();
    require_rejected(f, [&] { f.router->route(f.xv(), f.wo(), f.io(), o); }, ErrorCode::InvalidArgument, {"token_ids without hash_table"});
  }
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
