#include "cli/input_options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>

#include "io/npy.hpp"
#include "moerouter/error.hpp"

namespace moerouter::cli {

namespace {

using io::NpyDType;

// Reads a .npy file and keeps it alive in `in`; the view points into it.
TensorView read_into(RouterInputs& in, const std::string& path, const io::NpyExpect& expect) {
  auto array = std::make_shared<io::NpyArray>(io::read_npy(path, expect));
  const TensorView v = array->view();
  in.storage.push_back(array);
  return v;
}

std::string dtype_list(const std::vector<DType>& ok) {
  std::string s;
  for (size_t i = 0; i < ok.size(); ++i)
    s += (i == 0 ? "" : i + 1 == ok.size() ? " or " : ", ") + std::string(to_string(ok[i]));
  return s;
}

std::string expected_shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + (shape[i] < 0 ? std::string("*") : std::to_string(shape[i]));
  return s + "]";
}

// A checkpoint tensor, checked like a .npy file: dtype among `ok`, shape (-1 = any extent).
TensorView load_checked(RouterInputs& in, const CheckpointLayer& c, const io::CheckpointTensor& t,
                        const std::vector<DType>& ok, const std::vector<int64_t>& shape,
                        const char* why) {
  const std::string who = c.describe() + ": '" + t.name + "'";
  const auto dt = io::router_dtype(t.dtype);
  if (!dt || std::find(ok.begin(), ok.end(), *dt) == ok.end())
    fail(ErrorCode::IoError, who, ": dtype: expected ", dtype_list(ok), ", got ", io::to_string(t.dtype));
  bool same = t.shape.size() == shape.size();
  for (size_t i = 0; same && i < shape.size(); ++i) same = shape[i] < 0 || shape[i] == t.shape[i];
  if (!same)
    fail(ErrorCode::IoError, who, ": shape: expected ", expected_shape(shape), " (", why, "), got ",
         t.shape_string());
  io::HostTensor h = c.checkpoint.load(t.name);
  in.storage.push_back(h.storage);
  return h.view;
}

// The router takes an F32 bias; a BF16 one (some conversions store it so) widens exactly.
TensorView widen_bias(RouterInputs& in, const TensorView& b) {
  if (b.dtype == DType::F32) return b;
  auto f = std::make_shared<std::vector<float>>(static_cast<size_t>(b.shape[0]));
  for (int64_t e = 0; e < b.shape[0]; ++e) (*f)[e] = bf16_to_float(static_cast<const uint16_t*>(b.data)[e]);
  in.storage.push_back(f);
  return TensorView::vector(f->data(), b.shape[0]);
}

}  // namespace

void add_input_options(CLI::App& cmd, InputOptions& o, bool x_required) {
  const char* in = "Inputs (.npy, C order; bfloat16 as <u2 raw bits or |V2)";
  auto* x = cmd.add_option("--x", o.x, "Hidden states [N,H], float32 or bfloat16")->type_name("FILE.npy")->group(in);
  if (x_required) x->required();
  auto* w = cmd.add_option("--weight", o.weight, "Gate weights [E,H], float32 or bfloat16")
                ->type_name("FILE.npy")->group(in);
  auto* b = cmd.add_option("--bias", o.bias, "Selection bias [E], float32")->type_name("FILE.npy")->group(in);
  cmd.add_option("--token-ids", o.token_ids, "Hash routing: token ids [N], int32/int64")
      ->type_name("FILE.npy")->group(in);
  auto* t = cmd.add_option("--hash-table", o.hash_table, "Hash routing: expert table [vocab,k], int32/int64")
                ->type_name("FILE.npy")->group(in);

  const char* ck = "Checkpoint (instead of --weight/--bias/--hash-table)";
  auto* c = cmd.add_option("--checkpoint", o.checkpoint,
                           "A .safetensors file, or a directory of shards (with or without "
                           "model.safetensors.index.json); config.json there fills config fields not given")
                ->type_name("PATH")->group(ck);
  auto* l = cmd.add_option("--layer", o.layer,
                           "Router layer index i (model.layers.i.mlp.gate.* or layers.i.ffn.gate.*); "
                           "may be left out when there is only one")
                ->check(CLI::NonNegativeNumber)->group(ck);
  c->excludes(w)->excludes(b)->excludes(t);
  l->needs(c);
}

std::string CheckpointLayer::describe() const {
  return "checkpoint '" + checkpoint.path() + "' layer " + std::to_string(layer.index) + " (" +
         io::to_string(layer.naming) + " naming" + (layer.hashed() ? ", hash-routed" : "") + ")";
}

std::optional<CheckpointLayer> open_checkpoint_layer(const InputOptions& o) {
  if (!o.checkpoint) return std::nullopt;
  io::Checkpoint ckpt = io::Checkpoint::open(*o.checkpoint);
  io::RouterLayer layer;
  if (o.layer) {
    layer = ckpt.router_layer(*o.layer);
  } else {
    const auto layers = ckpt.find_router_layers();
    if (layers.size() != 1) {
      std::string present;
      for (const auto& l : layers) present += (present.empty() ? "" : " ") + std::to_string(l.index);
      fail(ErrorCode::InvalidArgument, "--layer: expected one of the router layers [", present, "] of '",
           ckpt.path(), "' (required when there is not exactly one), got none");
    }
    layer = layers.front();
  }
  // Hint: config.json first; what it lacks, the tensors' own shapes tell.
  io::RouterConfigHint hint;
  if (auto h = ckpt.config_hint()) hint = std::move(*h);
  else hint.source = "the checkpoint's tensor shapes";
  if (layer.weight.shape.size() == 2) {
    if (!hint.experts) hint.experts = layer.weight.shape[0];
    if (!hint.hidden) hint.hidden = layer.weight.shape[1];
  }
  if (layer.tid2eid && layer.tid2eid->shape.size() == 2 && !hint.top_k)
    hint.top_k = static_cast<int>(layer.tid2eid->shape[1]);
  return CheckpointLayer{std::move(ckpt), std::move(layer), std::move(hint)};
}

RouterConfig input_config(const ConfigOptions& flags, const std::optional<CheckpointLayer>& ckpt) {
  return build_config(flags, ckpt ? &ckpt->hint : nullptr);
}

RouterInputs load_inputs(const InputOptions& o, const std::optional<CheckpointLayer>& ckpt,
                         const RouterConfig& cfg, bool complete) {
  const int64_t H = cfg.hidden, E = cfg.experts, k = cfg.top_k;
  const std::vector<NpyDType> floats = {NpyDType::F32, NpyDType::BF16};
  const std::vector<NpyDType> ints = {NpyDType::I32, NpyDType::I64};
  RouterInputs in;

  if (complete && !o.weight && !ckpt)
    fail(ErrorCode::InvalidArgument, "--weight: expected a gate weight file, or --checkpoint, got neither");
  const bool hashed_layer = ckpt && ckpt->layer.hashed();
  if (o.hash_table && !o.token_ids)
    fail(ErrorCode::InvalidArgument, "--hash-table: expected --token-ids with it, got none");
  if (o.token_ids && !o.hash_table && !ckpt)
    fail(ErrorCode::InvalidArgument, "--token-ids: expected --hash-table (or a hash-routed --checkpoint ",
         "layer) with it, got none");
  if (complete && hashed_layer && !o.token_ids)
    fail(ErrorCode::InvalidArgument, ckpt->describe(), " has a tid2eid table: expected --token-ids, got none");
  if (ckpt && !hashed_layer && o.token_ids)
    fail(ErrorCode::InvalidArgument, "--token-ids: ", ckpt->describe(), " is not hash-routed (no tid2eid)");

  // The gate tensors first: against a checkpoint, a config that does not fit its shapes is the
  // likelier mistake than a bad x, and the more useful message.
  if (ckpt) {
    const io::RouterLayer& l = ckpt->layer;
    in.weight = load_checked(in, *ckpt, l.weight, {DType::F32, DType::BF16}, {E, H}, "config experts, hidden");
    in.weight_source = ckpt->describe();
    if (l.bias)
      in.bias = widen_bias(in, load_checked(in, *ckpt, *l.bias, {DType::F32, DType::BF16}, {E}, "config experts"));
    if (l.tid2eid)
      in.hash_table = load_checked(in, *ckpt, *l.tid2eid, {DType::I32, DType::I64}, {-1, k}, "vocab, config top_k");
  }
  if (o.weight) {
    in.weight = read_into(in, *o.weight, {"--weight", floats, {E, H}});
    in.weight_source = "--weight '" + *o.weight + "'";
  }
  if (o.bias) in.bias = read_into(in, *o.bias, {"--bias", {NpyDType::F32}, {E}});
  if (o.hash_table) in.hash_table = read_into(in, *o.hash_table, {"--hash-table", ints, {-1, k}});
  if (o.x) in.x = read_into(in, *o.x, {"--x", floats, {-1, H}});
  const int64_t n = in.x ? in.x->shape[0] : -1;  // token ids: one per row of x
  if (o.token_ids) in.token_ids = read_into(in, *o.token_ids, {"--token-ids", ints, {n}});
  return in;
}

}  // namespace moerouter::cli
