// RouterConfig: what a router computes (DESIGN.md §1). Presets are data, not code.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moerouter {

enum class ScoreFn { SqrtSoftplus, Sigmoid, Softmax };
enum class GemmMode { Canonical, Fp32, Bf16 };

// Hard limits of the contract (checked by validate()).
inline constexpr int64_t kMaxExperts = 1024;
inline constexpr int kMaxTopK = 32;
// Canonical dot-product chunk length, contract version 1 (DESIGN.md §2). Changing it is a new
// contract version, never a silent change.
inline constexpr int kCanonicalChunk = 64;
inline constexpr int kContractVersion = 1;
// Added to the renormalization denominator: weights = (w / (sum + kRenormEpsilon)) * scale.
inline constexpr float kRenormEpsilon = 1e-20f;

struct RouterConfig {
  int64_t hidden = 0;   // H
  int64_t experts = 0;  // E, 1..1024
  int top_k = 1;        // k, 1..min(E, 32)
  ScoreFn score = ScoreFn::SqrtSoftplus;
  int groups = 1;       // G, divides E; 1 = no group limit
  int topk_groups = 1;  // groups kept, 1..G (ignored when groups == 1)
  bool renormalize = true;
  float scale = 1.f;    // finite
  GemmMode gemm = GemmMode::Canonical;

  int64_t experts_per_group() const { return experts / groups; }
  bool group_limited() const { return groups > 1; }
};

// Throws Error(InvalidArgument) naming the first bad field, the expected and the actual value.
void validate(const RouterConfig& cfg);

// Named presets: dsv4-flash, dsv4-pro, dsv4.1-flash, dsv3, qwen3-moe, mixtral.
RouterConfig preset(std::string_view name);  // throws InvalidArgument listing the known names
const std::vector<std::string>& preset_names();

const char* to_string(ScoreFn s) noexcept;
const char* to_string(GemmMode g) noexcept;
ScoreFn parse_score_fn(std::string_view s);    // throws InvalidArgument
GemmMode parse_gemm_mode(std::string_view s);  // throws InvalidArgument
std::string describe(const RouterConfig& cfg); // one line, for logs and the CLI

}  // namespace moerouter
