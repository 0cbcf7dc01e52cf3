#include "moerouter/config.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "moerouter/error.hpp"

namespace moerouter {

namespace {

struct NamedPreset {
  const char* name;
  RouterConfig config;
};

RouterConfig make(int64_t hidden, int64_t experts, int k, ScoreFn score, float scale,
                  bool renormalize, int groups = 1, int topk_groups = 1) {
  RouterConfig c;
  c.hidden = hidden;
  c.experts = experts;
  c.top_k = k;
  c.score = score;
  c.scale = scale;
  c.renormalize = renormalize;
  c.groups = groups;
  c.topk_groups = topk_groups;
  return c;
}

// Shapes from the public model configs (DESIGN.md §1).
const std::vector<NamedPreset>& table() {
  static const std::vector<NamedPreset> presets = {
      {"dsv4-flash", make(4096, 256, 6, ScoreFn::SqrtSoftplus, 1.5f, true)},
      {"dsv4-pro", make(7168, 384, 6, ScoreFn::SqrtSoftplus, 2.5f, true)},
      {"dsv4.1-flash", make(5120, 384, 6, ScoreFn::SqrtSoftplus, 1.5f, true)},
      {"dsv3", make(7168, 256, 8, ScoreFn::Sigmoid, 2.5f, true, 8, 4)},
      {"qwen3-moe", make(2048, 128, 8, ScoreFn::Softmax, 1.0f, true)},
      {"mixtral", make(4096, 8, 2, ScoreFn::Softmax, 1.0f, true)},
  };
  return presets;
}

}  // namespace

void validate(const RouterConfig& c) {
  const auto bad = [](const char* field, const auto& expected, const auto& actual) {
    fail_arg(ErrorCode::InvalidArgument, std::string("config.") + field, expected, actual);
  };
  if (c.hidden < 1) bad("hidden", "hidden >= 1", c.hidden);
  if (c.experts < 1 || c.experts > kMaxExperts) bad("experts", "1 <= experts <= 1024", c.experts);
  const int64_t max_k = std::min<int64_t>(c.experts, kMaxTopK);
  if (c.top_k < 1 || c.top_k > max_k)
    bad("top_k", "1 <= top_k <= min(experts, 32) = " + std::to_string(max_k), c.top_k);
  if (c.score != ScoreFn::SqrtSoftplus && c.score != ScoreFn::Sigmoid && c.score != ScoreFn::Softmax)
    bad("score", "sqrtsoftplus, sigmoid or softmax", static_cast<int>(c.score));
  if (c.gemm != GemmMode::Canonical && c.gemm != GemmMode::Fp32 && c.gemm != GemmMode::Bf16)
    bad("gemm", "canonical, fp32 or bf16", static_cast<int>(c.gemm));
  if (c.groups < 1 || c.groups > c.experts)
    bad("groups", "1 <= groups <= experts = " + std::to_string(c.experts), c.groups);
  if (c.experts % c.groups != 0)
    bad("groups", "a divisor of experts = " + std::to_string(c.experts), c.groups);
  if (c.groups > 1) {
    const int max_keep = std::min(c.groups, kMaxTopK);
    if (c.topk_groups < 1 || c.topk_groups > max_keep)
      bad("topk_groups", "1 <= topk_groups <= min(groups, 32) = " + std::to_string(max_keep),
          c.topk_groups);
    const int64_t reachable = static_cast<int64_t>(c.topk_groups) * c.experts_per_group();
    if (reachable < c.top_k)
      bad("top_k", "at most topk_groups * experts/groups = " + std::to_string(reachable) +
                       " experts left after the group limit",
          c.top_k);
  }
  if (!std::isfinite(c.scale)) bad("scale", "a finite number", c.scale);
}

RouterConfig preset(std::string_view name) {
  for (const auto& p : table())
    if (name == p.name) return p.config;
  std::string known;
  for (const auto& p : table()) known += (known.empty() ? "" : ", ") + std::string(p.name);
  fail_arg(ErrorCode::InvalidArgument, "preset", "one of " + known, "'" + std::string(name) + "'");
}

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& p : table()) v.emplace_back(p.name);
    return v;
  }();
  return names;
}

const char* to_string(ScoreFn s) noexcept {
  switch (s) {
    case ScoreFn::SqrtSoftplus: return "sqrtsoftplus";
    case ScoreFn::Sigmoid: return "sigmoid";
    case ScoreFn::Softmax: return "softmax";
  }
  return "unknown";
}

const char* to_string(GemmMode g) noexcept {
  switch (g) {
    case GemmMode::Canonical: return "canonical";
    case GemmMode::Fp32: return "fp32";
    case GemmMode::Bf16: return "bf16";
  }
  return "unknown";
}

ScoreFn parse_score_fn(std::string_view s) {
  for (ScoreFn f : {ScoreFn::SqrtSoftplus, ScoreFn::Sigmoid, ScoreFn::Softmax})
    if (s == to_string(f)) return f;
  fail_arg(ErrorCode::InvalidArgument, "score", "sqrtsoftplus, sigmoid or softmax",
           "'" + std::string(s) + "'");
}

GemmMode parse_gemm_mode(std::string_view s) {
  for (GemmMode g : {GemmMode::Canonical, GemmMode::Fp32, GemmMode::Bf16})
    if (s == to_string(g)) return g;
  fail_arg(ErrorCode::InvalidArgument, "gemm", "canonical, fp32 or bf16", "'" + std::string(s) + "'");
}

std::string describe(const RouterConfig& c) {
  std::ostringstream os;
  os << "H=" << c.hidden << " E=" << c.experts << " k=" << c.top_k << " score=" << to_string(c.score);
  if (c.groups > 1) os << " groups=" << c.groups << " topk_groups=" << c.topk_groups;
  os << " renormalize=" << (c.renormalize ? "yes" : "no") << " scale=" << c.scale
     << " gemm=" << to_string(c.gemm);
  return os.str();
}

}  // namespace moerouter
