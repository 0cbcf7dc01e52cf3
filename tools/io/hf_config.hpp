// A router config suggested by a model's config.json (Hugging Face or DeepSeek's own keys). Every field is optional: what the file
// does not say stays unset, and the caller's flags or preset decide.
//   hidden       hidden_size
//   experts      n_routed_experts (DeepSeek), num_experts (Qwen-MoE), num_local_experts (Mixtral)
//   top_k        num_experts_per_tok
//   score        scoring_func (sigmoid, softmax, sqrtsoftplus); softmax when absent (Mixtral, Qwen)
//   scale        routed_scaling_factor
//   groups       n_group, topk_groups  topk_group (DeepSeek; ignored for topk_method "greedy")
//   renormalize  norm_topk_prob
// DeepSeek's own inference configs (ModelArgs) name them dim, n_routed_experts,
// n_activated_experts, score_func, route_scale, n_expert_groups, n_limited_groups; there the
// weights are renormalized unless the score is softmax. Keys are looked up at the top level, then
// in "text_config" (multimodal wrappers).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "moerouter/config.hpp"

namespace moerouter::io {

struct RouterConfigHint {
  std::string source;  // the file (or "tensor shapes") the values came from
  std::optional<int64_t> hidden, experts;
  std::optional<int> top_k, groups, topk_groups;
  std::optional<ScoreFn> score;
  std::optional<float> scale;
  std::optional<bool> renormalize;
  // What the caller should know: assumed defaults, values moerouter cannot represent.
  std::vector<std::string> notes;

  std::string describe() const;  // "hidden=7168 experts=256 top_k=8 score=sigmoid ..." (set fields)
};

// Throws Error(IoError) starting with `label` for malformed JSON or a key of the wrong type.
RouterConfigHint parse_hf_config(const std::string& json_text, const std::string& label);
// directory/config.json, or nullopt when there is none.
std::optional<RouterConfigHint> read_hf_config(const std::string& directory);

}  // namespace moerouter::io
