// The router inputs of route, check and compare: hidden states and gate tensors from .npy files,
// or the gate tensors of one layer of a safetensors checkpoint (--checkpoint DIR --layer i).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/config_options.hpp"
#include "io/checkpoint.hpp"
#include "moerouter/tensor.hpp"

namespace CLI {
class App;
}

namespace moerouter::cli {

struct InputOptions {
  std::optional<std::string> x, weight, bias, token_ids, hash_table;
  std::optional<std::string> checkpoint;
  std::optional<int64_t> layer;
};

// Registers --x --weight --bias --token-ids --hash-table --checkpoint --layer. --checkpoint
// excludes --weight, --bias and --hash-table (the layer brings its own). x_required: --x must
// be given (route, check); compare generates what is not given.
void add_input_options(CLI::App& cmd, InputOptions& opts, bool x_required);

// The checkpoint layer --checkpoint/--layer name (--layer may be left out when the checkpoint
// has exactly one router layer), with the config its config.json and tensor shapes suggest.
struct CheckpointLayer {
  io::Checkpoint checkpoint;
  io::RouterLayer layer;
  io::RouterConfigHint hint;
  std::string describe() const;  // "checkpoint DIR layer 3 (hf naming, hash-routed)"
};
std::optional<CheckpointLayer> open_checkpoint_layer(const InputOptions& opts);

// The config: explicit flags, over --preset, over the checkpoint's hint (build_config).
RouterConfig input_config(const ConfigOptions& flags, const std::optional<CheckpointLayer>& ckpt);

// Host tensors for one router call, checked against the config (messages name the file or the
// checkpoint tensor). A tensor that was not asked for stays empty: compare generates it.
struct RouterInputs {
  std::optional<TensorView> x, weight, bias, token_ids, hash_table;
  std::string weight_source;  // "--weight FILE" or the checkpoint layer, for reports
  std::vector<std::shared_ptr<const void>> storage;  // keeps the views' memory alive
};
// complete: the inputs must be complete (route, check): --weight or --checkpoint, and --token-ids
// for a hash-routed layer. Otherwise (compare) what is missing stays empty, to be generated.
RouterInputs load_inputs(const InputOptions& opts, const std::optional<CheckpointLayer>& ckpt,
                         const RouterConfig& cfg, bool complete);

}  // namespace moerouter::cli
