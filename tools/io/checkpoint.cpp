#include "io/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "io/json_parse.hpp"
#include "moerouter/error.hpp"

namespace moerouter::io {

namespace fs = std::filesystem;

namespace {

constexpr const char* kIndexName = "model.safetensors.index.json";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail(ErrorCode::IoError, "cannot open '", p.string(), "'");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// A shard named by the index must be a plain relative path inside the checkpoint's directory:
// an index from the internet must not make us map /etc/passwd or ../../anything.
void check_shard_name(const std::string& shard, const std::string& tensor, const std::string& label) {
  const fs::path p(shard);
  bool escapes = shard.empty() || p.is_absolute();
  for (const auto& part : p) escapes = escapes || part == "..";
  if (escapes)
    fail(ErrorCode::IoError, label, ": weight_map: tensor '", tensor, "': expected a shard file inside ",
         "the checkpoint directory, got '", shard, "'");
}

}  // namespace

struct Checkpoint::State {
  std::string path, directory;
  std::map<std::string, std::string> file_of;  // tensor name -> shard path
  std::vector<std::string> shards;             // distinct shard paths
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<const SafetensorsFile>> opened;

  const SafetensorsFile& shard(const std::string& file) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = opened.find(file);
    if (it == opened.end())
      it = opened.emplace(file, std::make_shared<const SafetensorsFile>(SafetensorsFile::open(file))).first;
    return *it->second;
  }

  const SafetensorsFile& holder(const std::string& name) {
    const auto it = file_of.find(name);
    if (it == file_of.end())
      fail(ErrorCode::IoError, "checkpoint '", path, "': no tensor named '", name, "'");
    const SafetensorsFile& f = shard(it->second);
    if (!f.find(name))
      fail(ErrorCode::IoError, "checkpoint '", path, "': ", kIndexName, " puts tensor '", name,
           "' in '", it->second, "', which has no such tensor");
    return f;
  }

  void from_index(const fs::path& index) {
    const std::string label = "'" + index.string() + "'";
    nlohmann::json root = detail::parse_json(read_text(index), label);
    if (!root.is_object() || !root.contains("weight_map") || !root["weight_map"].is_object())
      fail(ErrorCode::IoError, label, ": expected an object with a \"weight_map\" object (tensor name ",
           "-> shard file), got ", root.is_object() ? "none" : root.type_name());
    for (const auto& [tensor, shard] : root["weight_map"].items()) {
      if (!shard.is_string())
        fail(ErrorCode::IoError, label, ": weight_map: tensor '", tensor, "': expected a file name, got ",
             shard.dump());
      check_shard_name(shard.get<std::string>(), tensor, label);
      const std::string file = (fs::path(directory) / shard.get<std::string>()).string();
      file_of[tensor] = file;
      if (std::find(shards.begin(), shards.end(), file) == shards.end()) {
        std::error_code ec;
        if (!fs::is_regular_file(file, ec))
          fail(ErrorCode::IoError, label, ": weight_map: tensor '", tensor, "': shard '",
               shard.get<std::string>(), "' does not exist in '", directory, "'");
        shards.push_back(file);
      }
    }
  }

  // Without an index every shard must be opened to learn what it holds.
  void from_files(const std::vector<std::string>& files) {
    for (const std::string& file : files) {
      const SafetensorsFile& f = shard(file);
      shards.push_back(file);
      for (const StTensorInfo& t : f.tensors()) {
        const auto [it, fresh] = file_of.emplace(t.name, file);
        if (!fresh)
          fail(ErrorCode::IoError, "checkpoint '", path, "': tensor '", t.name, "' is in both '",
               it->second, "' and '", file, "'");
      }
    }
  }
};

Checkpoint Checkpoint::open(const std::string& path) {
  Checkpoint c;
  c.s_ = std::make_shared<State>();
  State& s = *c.s_;
  s.path = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    s.directory = path;
    const fs::path index = fs::path(path) / kIndexName;
    if (fs::is_regular_file(index, ec)) {
      s.from_index(index);
    } else {
      std::vector<std::string> files;
      for (const auto& entry : fs::directory_iterator(path, ec))
        if (entry.is_regular_file() && entry.path().extension() == ".safetensors")
          files.push_back(entry.path().string());
      if (ec) fail(ErrorCode::IoError, "cannot list '", path, "': ", ec.message());
      if (files.empty())
        fail(ErrorCode::IoError, "checkpoint '", path, "': expected ", kIndexName,
             " or *.safetensors files in the directory, got neither");
      std::sort(files.begin(), files.end());
      s.from_files(files);
    }
  } else if (fs::exists(path, ec)) {
    s.directory = fs::path(path).parent_path().string();
    if (s.directory.empty()) s.directory = ".";
    s.from_files({path});
  } else {
    fail(ErrorCode::IoError, "checkpoint '", path, "': no such file or directory");
  }
  return c;
}

const std::string& Checkpoint::path() const { return s_->path; }
const std::string& Checkpoint::directory() const { return s_->directory; }
size_t Checkpoint::shard_count() const { return s_->shards.size(); }

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> names;
  for (const auto& [name, file] : s_->file_of) names.push_back(name);
  return names;
}

bool Checkpoint::contains(const std::string& name) const { return s_->file_of.count(name) > 0; }

CheckpointTensor Checkpoint::info(const std::string& name) const { return s_->holder(name).info(name); }

HostTensor Checkpoint::load(const std::string& name) const { return s_->holder(name).load(name); }

std::vector<RouterLayer> Checkpoint::find_router_layers() const {
  std::vector<CheckpointTensor> tensors;
  for (const auto& [name, file] : s_->file_of)
    if (parse_router_tensor_name(name)) tensors.push_back(info(name));
  return group_router_layers(tensors, "checkpoint '" + s_->path + "'");
}

RouterLayer Checkpoint::router_layer(int64_t index) const {
  const std::vector<RouterLayer> layers = find_router_layers();
  std::string present;
  for (const RouterLayer& l : layers) {
    if (l.index == index) return l;
    present += (present.empty() ? "" : " ") + std::to_string(l.index);
  }
  fail(ErrorCode::IoError, "checkpoint '", s_->path, "': layer: expected one of the router layers [",
       present, "], got ", index, present.empty() ? " (no router tensors found: names like "
       "model.layers.{i}.mlp.gate.weight or layers.{i}.ffn.gate.weight)" : "");
}

std::optional<RouterConfigHint> Checkpoint::config_hint() const { return read_hf_config(s_->directory); }

}  // namespace moerouter::io
