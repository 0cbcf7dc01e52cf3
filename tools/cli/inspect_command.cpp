// `moerouter inspect`: what a checkpoint holds for the router — each router layer's tensors
// (names, shapes, dtypes), whether it is hash-routed or scored, and the config its config.json
// suggests — so a user can pick --layer and check shapes before routing.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "io/checkpoint.hpp"

namespace moerouter::cli {

namespace {

struct InspectArgs {
  std::string checkpoint;
};

std::string tensor_text(const io::CheckpointTensor& t) {
  return t.name + " " + t.shape_string() + " " + io::to_string(t.dtype);
}

void run_inspect(const InspectArgs& a) {
  const io::Checkpoint ckpt = io::Checkpoint::open(a.checkpoint);
  const auto layers = ckpt.find_router_layers();
  const auto names = ckpt.tensor_names();
  std::printf("checkpoint '%s': %zu shard%s, %zu tensors, %zu router layers\n", ckpt.path().c_str(),
              ckpt.shard_count(), ckpt.shard_count() == 1 ? "" : "s", names.size(), layers.size());
  for (const io::RouterLayer& l : layers) {
    std::printf("  layer %lld: %s, %s naming\n", static_cast<long long>(l.index),
                l.hashed() ? "hash-routed" : "scored", io::to_string(l.naming));
    std::printf("    weight   %s\n", tensor_text(l.weight).c_str());
    std::printf("    bias     %s\n", l.bias ? tensor_text(*l.bias).c_str() : "none");
    if (l.tid2eid) std::printf("    tid2eid  %s\n", tensor_text(*l.tid2eid).c_str());
  }
  if (layers.empty())
    std::printf("  no router tensors (model.layers.{i}.mlp.gate.weight, layers.{i}.ffn.gate.weight, "
                "model.layers.{i}.block_sparse_moe.gate.weight)\n");
  if (const auto hint = ckpt.config_hint()) {
    std::printf("suggested config (%s): %s\n", hint->source.c_str(), hint->describe().c_str());
    for (const std::string& note : hint->notes) std::printf("  note: %s\n", note.c_str());
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "List the router layers of a safetensors checkpoint: index, tensor names, shapes, "
                 "dtypes, hash-routed or scored, bias present; and the config its config.json suggests");
  cmd->add_option("--checkpoint", args->checkpoint,
                  "A .safetensors file, or a directory of shards (with or without model.safetensors.index.json)")
      ->type_name("PATH")
      ->required();
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace moerouter::cli
