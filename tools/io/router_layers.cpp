#include "io/router_layers.hpp"

#include <map>

#include "moerouter/error.hpp"

namespace moerouter::io {

namespace {

struct Scheme {
  RouterNaming naming;
  const char* prefix;  // before the layer index
  const char* middle;  // after it, before the role's suffix
  const char* weight;
  const char* bias;     // nullptr: the naming has none
  const char* tid2eid;
};

constexpr Scheme kSchemes[] = {
    {RouterNaming::Hf, "model.layers.", ".mlp.gate.", "weight", "e_score_correction_bias", "tid2eid"},
    {RouterNaming::DeepSeek, "layers.", ".ffn.gate.", "weight", "bias", "tid2eid"},
    {RouterNaming::Mixtral, "model.layers.", ".block_sparse_moe.gate.", "weight", nullptr, nullptr},
};

const char* suffix(const Scheme& s, RouterRole r) {
  switch (r) {
    case RouterRole::Weight: return s.weight;
    case RouterRole::Bias: return s.bias;
    case RouterRole::HashTable: return s.tid2eid;
  }
  return nullptr;
}

// A canonical decimal index ("0", "17"; no sign, no leading zeros) at the start of s.
std::optional<int64_t> leading_index(std::string_view s, size_t* used) {
  size_t i = 0;
  int64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 12) v = v * 10 + (s[i++] - '0');
  if (i == 0 || (i > 1 && s[0] == '0')) return std::nullopt;
  *used = i;
  return v;
}

}  // namespace

const char* to_string(RouterNaming n) noexcept {
  switch (n) {
    case RouterNaming::Hf: return "hf";
    case RouterNaming::DeepSeek: return "deepseek";
    case RouterNaming::Mixtral: return "mixtral";
  }
  return "?";
}

const char* to_string(RouterRole r) noexcept {
  switch (r) {
    case RouterRole::Weight: return "weight";
    case RouterRole::Bias: return "bias";
    case RouterRole::HashTable: return "tid2eid";
  }
  return "?";
}

std::optional<RouterTensorName> parse_router_tensor_name(std::string_view name) {
  for (const Scheme& s : kSchemes) {
    const std::string_view prefix(s.prefix);
    if (name.substr(0, prefix.size()) != prefix) continue;
    std::string_view rest = name.substr(prefix.size());
    size_t used = 0;
    const auto index = leading_index(rest, &used);
    if (!index) continue;
    rest = rest.substr(used);
    const std::string_view middle(s.middle);
    if (rest.substr(0, middle.size()) != middle) continue;
    rest = rest.substr(middle.size());
    for (RouterRole role : {RouterRole::Weight, RouterRole::Bias, RouterRole::HashTable}) {
      const char* suf = suffix(s, role);
      if (suf && rest == suf) return RouterTensorName{*index, s.naming, role};
    }
  }
  return std::nullopt;
}

std::optional<std::string> router_tensor_name(RouterNaming naming, int64_t layer, RouterRole role) {
  for (const Scheme& s : kSchemes)
    if (s.naming == naming && suffix(s, role))
      return std::string(s.prefix) + std::to_string(layer) + s.middle + suffix(s, role);
  return std::nullopt;
}

std::vector<RouterLayer> group_router_layers(const std::vector<CheckpointTensor>& tensors,
                                             const std::string& label) {
  struct Partial {
    RouterNaming naming;
    std::string first_name;
    std::optional<CheckpointTensor> weight, bias, tid2eid;
  };
  std::map<int64_t, Partial> layers;
  for (const CheckpointTensor& t : tensors) {
    const auto parsed = parse_router_tensor_name(t.name);
    if (!parsed) continue;
    auto [it, fresh] = layers.try_emplace(parsed->layer, Partial{parsed->naming, t.name, {}, {}, {}});
    Partial& p = it->second;
    if (!fresh && p.naming != parsed->naming)
      fail(ErrorCode::IoError, label, ": router layer ", parsed->layer, " appears under two namings: '",
           p.first_name, "' (", to_string(p.naming), ") and '", t.name, "' (", to_string(parsed->naming), ")");
    switch (parsed->role) {
      case RouterRole::Weight: p.weight = t; break;
      case RouterRole::Bias: p.bias = t; break;
      case RouterRole::HashTable: p.tid2eid = t; break;
    }
  }
  std::vector<RouterLayer> out;
  for (auto& [index, p] : layers) {
    if (!p.weight)
      fail(ErrorCode::IoError, label, ": router layer ", index, ": '", p.first_name, "' without a gate ",
           "weight '", *router_tensor_name(p.naming, index, RouterRole::Weight), "'");
    out.push_back(RouterLayer{index, p.naming, *p.weight, p.bias, p.tid2eid});
  }
  return out;
}

}  // namespace moerouter::io
