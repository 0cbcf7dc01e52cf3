#include <string>

#include "moerouter/config.hpp"
#include "moerouter/error.hpp"
#include "support/catch.hpp"

using namespace moerouter;

namespace {
// Runs validate() and returns the error message, or "" when the config is valid.
std::string validation_error(const RouterConfig& c) {
  try {
    validate(c);
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::InvalidArgument);
    return e.what();
  }
  return "";
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("presets carry the public model shapes", "[config]") {
  const RouterConfig pro = preset("dsv4-pro");
  CHECK(pro.hidden == 7168);
  CHECK(pro.experts == 384);
  CHECK(pro.top_k == 6);
  CHECK(pro.score == ScoreFn::SqrtSoftplus);
  CHECK(pro.scale == 2.5f);
  const RouterConfig flash = preset("dsv4-flash");
  CHECK((flash.hidden == 4096 && flash.experts == 256 && flash.top_k == 6 && flash.scale == 1.5f));
  const RouterConfig f41 = preset("dsv4.1-flash");
  CHECK((f41.hidden == 5120 && f41.experts == 384 && f41.top_k == 6 && f41.scale == 1.5f));
  const RouterConfig v3 = preset("dsv3");
  CHECK((v3.hidden == 7168 && v3.experts == 256 && v3.top_k == 8 && v3.score == ScoreFn::Sigmoid));
  CHECK((v3.groups == 8 && v3.topk_groups == 4 && v3.scale == 2.5f));
  const RouterConfig qwen = preset("qwen3-moe");
  CHECK((qwen.hidden == 2048 && qwen.experts == 128 && qwen.top_k == 8 && qwen.score == ScoreFn::Softmax));
  CHECK(qwen.renormalize);
  const RouterConfig mix = preset("mixtral");
  CHECK((mix.hidden == 4096 && mix.experts == 8 && mix.top_k == 2 && mix.score == ScoreFn::Softmax));
  for (const auto& name : preset_names()) CHECK(validation_error(preset(name)).empty());
  CHECK(preset_names().size() == 6);
}

TEST_CASE("unknown preset names the known ones", "[config]") {
  try {
    preset("dsv5");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(contains(e.what(), "dsv5"));
    CHECK(contains(e.what(), "dsv4-pro"));
  }
}

TEST_CASE("every bad config field is named with expected and actual", "[config]") {
  RouterConfig c = preset("dsv3");
  auto check = [](RouterConfig bad, const std::string& field, const std::string& actual) {
    const std::string msg = validation_error(bad);
    INFO(msg);
    CHECK(contains(msg, field));
    CHECK(contains(msg, "expected"));
    CHECK(contains(msg, actual));
  };
  { auto b = c; b.hidden = 0; check(b, "config.hidden", "got 0"); }
  { auto b = c; b.experts = 0; check(b, "config.experts", "got 0"); }
  { auto b = c; b.experts = 1025; b.groups = 1; check(b, "config.experts", "got 1025"); }
  { auto b = c; b.top_k = 0; check(b, "config.top_k", "got 0"); }
  { auto b = c; b.top_k = 33; b.groups = 1; check(b, "config.top_k", "got 33"); }
  { auto b = preset("mixtral"); b.top_k = 9; check(b, "config.top_k", "got 9"); }
  { auto b = c; b.groups = 7; check(b, "config.groups", "got 7"); }
  { auto b = c; b.groups = 0; check(b, "config.groups", "got 0"); }
  { auto b = c; b.topk_groups = 9; check(b, "config.topk_groups", "got 9"); }
  { auto b = c; b.topk_groups = 0; check(b, "config.topk_groups", "got 0"); }
  { auto b = c; b.topk_groups = 1; b.top_k = 33; check(b, "config.top_k", "got 33"); }
  { auto b = c; b.groups = 64; b.topk_groups = 2; b.top_k = 9;
    check(b, "config.top_k: expected at most topk_groups * experts/groups = 8 experts left after the group limit", "got 9"); }
  { auto b = c; b.scale = 1.0f / 0.0f; check(b, "config.scale", "got inf"); }
  { auto b = c; b.score = static_cast<ScoreFn>(7); check(b, "config.score", "got 7"); }
}

TEST_CASE("enum names parse and print", "[config]") {
  CHECK(parse_score_fn("sigmoid") == ScoreFn::Sigmoid);
  CHECK(parse_gemm_mode("bf16") == GemmMode::Bf16);
  CHECK(std::string(to_string(ScoreFn::SqrtSoftplus)) == "sqrtsoftplus");
  CHECK_THROWS_AS(parse_score_fn("relu"), Error);
  CHECK_THROWS_AS(parse_gemm_mode("tf32"), Error);
  CHECK(contains(describe(preset("dsv3")), "groups=8"));
}
