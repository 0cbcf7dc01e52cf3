#include "io/hf_config.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>

#include "io/json_parse.hpp"
#include "moerouter/error.hpp"

namespace moerouter::io {

namespace {

using nlohmann::json;

class Reader {
 public:
  Reader(const json& root, const std::string& label) : label_(label) {
    scopes_.push_back(&root);
    if (root.contains("text_config") && root["text_config"].is_object()) scopes_.push_back(&root["text_config"]);
  }

  const json* find(const char* key) const {
    for (const json* s : scopes_)
      if (s->contains(key) && !(*s)[key].is_null()) return &(*s)[key];
    return nullptr;
  }

  // An integer that fits T: a value past its range is an error, never silently wrapped (a
  // num_experts_per_tok of 2^32 + 2 must not become top_k 2).
  template <class T>
  std::optional<T> integer(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) bad(key, "an integer", *v);
    const bool fits = v->is_number_unsigned()
                          ? v->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                          : v->get<int64_t>() >= std::numeric_limits<T>::min() &&
                                v->get<int64_t>() <= std::numeric_limits<T>::max();
    if (!fits)
      bad(key, sizeof(T) == 4 ? "an integer in [-2^31, 2^31)" : "an integer in [-2^63, 2^63)", *v);
    return v->is_number_unsigned() ? static_cast<T>(v->get<uint64_t>()) : static_cast<T>(v->get<int64_t>());
  }
  std::optional<float> number(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) bad(key, "a number", *v);
    return v->get<float>();
  }
  std::optional<bool> boolean(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) bad(key, "true or false", *v);
    return v->get<bool>();
  }
  std::optional<std::string> string(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) bad(key, "a string", *v);
    return v->get<std::string>();
  }

 private:
  [[noreturn]] void bad(const char* key, const char* expected, const json& got) const {
    fail(ErrorCode::IoError, label_, ": \"", key, "\": expected ", expected, ", got ", got.dump());
  }
  std::vector<const json*> scopes_;
  const std::string& label_;
};

}  // namespace

std::string RouterConfigHint::describe() const {
  std::ostringstream os;
  const auto field = [&](const char* name, const auto& v) {
    if (v) os << (os.tellp() > 0 ? " " : "") << name << "=" << *v;
  };
  field("hidden", hidden);
  field("experts", experts);
  field("top_k", top_k);
  if (score) os << (os.tellp() > 0 ? " " : "") << "score=" << to_string(*score);
  field("groups", groups);
  field("topk_groups", topk_groups);
  if (renormalize) os << (os.tellp() > 0 ? " " : "") << "renormalize=" << (*renormalize ? "true" : "false");
  field("scale", scale);
  return os.str();
}

RouterConfigHint parse_hf_config(const std::string& text, const std::string& label) {
  const json root = detail::parse_json(text, label);
  if (!root.is_object()) fail(ErrorCode::IoError, label, ": expected a JSON object, got ", root.type_name());
  const Reader r(root, label);

  RouterConfigHint h;
  h.source = label;
  // The first key present wins: Hugging Face's names, then DeepSeek's own.
  const auto first_int = [&](auto type, std::initializer_list<const char*> keys) {
    std::optional<decltype(type)> v;
    for (const char* key : keys)
      if (!v) v = r.integer<decltype(type)>(key);
    return v;
  };
  h.hidden = first_int(int64_t{}, {"hidden_size", "dim"});
  h.experts = first_int(int64_t{}, {"n_routed_experts", "num_experts", "num_local_experts"});
  h.top_k = first_int(int{}, {"num_experts_per_tok", "n_activated_experts"});
  const auto hf_score = r.string("scoring_func");
  const auto ds_score = r.string("score_func");
  if (const auto s = hf_score ? hf_score : ds_score) {
    try {
      h.score = parse_score_fn(*s);
    } catch (const Error&) {
      h.notes.push_back("scoring_func '" + *s + "' is not one moerouter computes (sqrtsoftplus, "
                        "sigmoid, softmax): give --score");
    }
  } else if (h.experts) {
    h.score = ScoreFn::Softmax;
    h.notes.push_back("no scoring_func: softmax assumed (Mixtral, Qwen-MoE)");
  }
  h.scale = r.number("routed_scaling_factor");
  if (!h.scale) h.scale = r.number("route_scale");
  h.renormalize = r.boolean("norm_topk_prob");
  if (!h.renormalize && !hf_score && ds_score && h.score)
    h.renormalize = *h.score != ScoreFn::Softmax;  // DeepSeek's Gate divides by the sum unless softmax

  const auto method = r.string("topk_method");
  if (method == "group_limited_greedy")
    h.notes.push_back("topk_method group_limited_greedy (DeepSeek-V2) scores a group by its best "
                      "expert; moerouter's groups score by the sum of the best two");
  if (method == "greedy") {
    h.groups = 1;  // n_group is present but unused by a plain top-k
  } else {
    h.groups = first_int(int{}, {"n_group", "n_expert_groups"});
    h.topk_groups = first_int(int{}, {"topk_group", "n_limited_groups"});
  }
  return h;
}

std::optional<RouterConfigHint> read_hf_config(const std::string& directory) {
  const std::filesystem::path path = std::filesystem::path(directory) / "config.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::IoError, "cannot open '", path.string(), "'");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_hf_config(text.str(), path.string());
}

}  // namespace moerouter::io
