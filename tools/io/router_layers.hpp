// Which tensors of a checkpoint are MoE router (gate) tensors, by name:
//   hf        model.layers.{i}.mlp.gate.weight [E, H], .e_score_correction_bias [E]
//             (Hugging Face DeepSeek-V3/V4, Qwen-MoE; .tid2eid [vocab, k] for hash layers)
//   deepseek  layers.{i}.ffn.gate.weight [E, H], .bias [E], .tid2eid [vocab, k]
//             (DeepSeek's own V4 inference format; tid2eid marks a hash-routed layer)
//   mixtral   model.layers.{i}.block_sparse_moe.gate.weight [E, H]
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/safetensors.hpp"

namespace moerouter::io {

enum class RouterNaming { Hf, DeepSeek, Mixtral };
enum class RouterRole { Weight, Bias, HashTable };

const char* to_string(RouterNaming n) noexcept;  // "hf", "deepseek", "mixtral"
const char* to_string(RouterRole r) noexcept;    // "weight", "bias", "tid2eid"

struct RouterTensorName {
  int64_t layer = -1;
  RouterNaming naming = RouterNaming::Hf;
  RouterRole role = RouterRole::Weight;
};

// nullopt for every other tensor (experts, attention, dense layers' gate_proj, ...).
std::optional<RouterTensorName> parse_router_tensor_name(std::string_view name);
// The inverse; nullopt when the naming has no such tensor (mixtral has no bias).
std::optional<std::string> router_tensor_name(RouterNaming naming, int64_t layer, RouterRole role);

struct RouterLayer {
  int64_t index = -1;
  RouterNaming naming = RouterNaming::Hf;
  CheckpointTensor weight;
  std::optional<CheckpointTensor> bias;
  std::optional<CheckpointTensor> tid2eid;  // present: a hash-routed layer
  bool hashed() const { return tid2eid.has_value(); }
};

// Groups router tensors (others are ignored) into layers, sorted by index. Throws Error(IoError)
// starting with `label` when a layer has a bias or tid2eid but no weight, or appears under two
// namings. Shapes and dtypes are not judged here: `inspect` lists what is there, `route` checks
// it against the config.
std::vector<RouterLayer> group_router_layers(const std::vector<CheckpointTensor>& tensors,
                                             const std::string& label);

}  // namespace moerouter::io
