// A model checkpoint on disk: one .safetensors file, or a directory of shards. A directory with
// model.safetensors.index.json is read through its weight_map (tensor name -> shard file); a
// directory without one (DeepSeek's own format) is every *.safetensors file in it. Shards are
// opened (mapped, header validated) only when one of their tensors is asked for, so listing the
// router layers of a 163-shard model opens only the shards holding gate tensors.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/hf_config.hpp"
#include "io/router_layers.hpp"
#include "io/safetensors.hpp"

namespace moerouter::io {

class Checkpoint {
 public:
  // Throws Error(IoError) naming the path: missing, an index that is malformed or names a shard
  // outside the directory, a directory with neither an index nor .safetensors files, a tensor in
  // two shards. Shards are validated later, when opened.
  static Checkpoint open(const std::string& path);

  const std::string& path() const;
  const std::string& directory() const;     // the directory (the file's own for a single file)
  size_t shard_count() const;
  std::vector<std::string> tensor_names() const;  // sorted
  bool contains(const std::string& name) const;
  // Dtype and shape (opens the shard). Throws IoError when absent, or when the index names a shard
  // that does not hold the tensor.
  CheckpointTensor info(const std::string& name) const;
  HostTensor load(const std::string& name) const;

  // The router layers (router_layers.hpp), sorted by index.
  std::vector<RouterLayer> find_router_layers() const;
  // The layer with this index; IoError listing the indices present when there is none.
  RouterLayer router_layer(int64_t index) const;
  // directory/config.json read as a router config suggestion; nullopt without one.
  std::optional<RouterConfigHint> config_hint() const;

  // Thread-safe: shards open behind a mutex, and copies share them.
 private:
  struct State;
  std::shared_ptr<State> s_;
};

}  // namespace moerouter::io
