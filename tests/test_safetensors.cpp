// moerouter_io: safetensors files and checkpoints. Round trips through the writer, checkpoints in
// both router namings (a sharded one with model.safetensors.index.json, DeepSeek's own unindexed
// one), config.json hints, and each kind of malformed file, which must be an IoError whose
// message names the file, the tensor and the problem.
#include "support/catch.hpp"

#ifdef MOEROUTER_HAVE_SAFETENSORS

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/hf_config.hpp"
#include "io/router_layers.hpp"
#include "io/safetensors.hpp"
#include "io/safetensors_write.hpp"
#include "moerouter/error.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using moerouter::DType;
using moerouter::Error;
using moerouter::ErrorCode;
using namespace moerouter::io;

namespace {

// A fresh directory per test case (tests/support/temp_dir.hpp), named after this file.
struct TempDir : moerouter::testing::TempDir {
  TempDir() : moerouter::testing::TempDir("test_st") {}
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
}

// A file with a hand-written header: 8-byte length, the JSON as given, then `data_bytes` bytes.
std::string raw_file(const TempDir& d, const std::string& json, size_t data_bytes,
                     const std::string& name = "raw.safetensors") {
  std::string bytes(8, '\0');
  const uint64_t len = json.size();
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xFF);
  bytes += json;
  bytes.append(data_bytes, '\x01');
  const std::string path = d.file(name);
  write_text(path, bytes);
  return path;
}

// Runs fn, which must throw IoError; returns the message.
template <class Fn>
std::string io_error(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::IoError);
    return e.what();
  }
  FAIL("expected an IoError");
  return "";
}

bool has(const std::string& text, const std::string& part) {
  INFO(text);
  return text.find(part) != std::string::npos;
}

// A small gate: E x H float weights, E bias, a vocab x k table.
struct Gate {
  int64_t E = 8, H = 16, k = 2, vocab = 5;
  std::vector<float> w, b;
  std::vector<uint16_t> w_bf16;
  std::vector<int64_t> table;
  explicit Gate(float seed) {
    for (int64_t i = 0; i < E * H; ++i) {
      w.push_back(seed + static_cast<float>(i) * 0.25f);
      w_bf16.push_back(moerouter::float_to_bf16(w.back()));
    }
    for (int64_t e = 0; e < E; ++e) b.push_back(static_cast<float>(e) / 8 - seed);
    for (int64_t v = 0; v < vocab * k; ++v) table.push_back(v % E);
  }
};

}  // namespace

TEST_CASE("safetensors: the writer's files read back with every router dtype", "[safetensors]") {
  TempDir d;
  const Gate g(1.0f);
  const std::vector<int32_t> i32 = {1, -2, 3};
  const std::string path = d.file("a.safetensors");
  write_safetensors(path,
                    {{"w", StDType::F32, {g.E, g.H}, g.w.data()},
                     {"w16", StDType::BF16, {g.E, g.H}, g.w_bf16.data()},
                     {"i32", StDType::I32, {3}, i32.data()},
                     {"table", StDType::I64, {g.vocab, g.k}, g.table.data()},
                     {"empty", StDType::F32, {0, 4}, nullptr}},
                    {{"format", "pt"}});
  const SafetensorsFile f = SafetensorsFile::open(path);
  REQUIRE(f.tensors().size() == 5);
  CHECK(f.tensors().front().name == "empty");  // sorted by name
  CHECK(f.metadata().at("format") == "pt");

  const HostTensor w = f.load("w");
  CHECK(w.view.dtype == DType::F32);
  CHECK(w.view.ndim == 2);
  CHECK(w.view.shape[0] == g.E);
  CHECK(w.view.is_contiguous());
  CHECK(std::memcmp(w.view.data, g.w.data(), g.w.size() * 4) == 0);
  CHECK(w.info.file == path);
  CHECK(w.info.shape_string() == "[8, 16]");

  const HostTensor w16 = f.load("w16");
  CHECK(w16.view.dtype == DType::BF16);
  CHECK(std::memcmp(w16.view.data, g.w_bf16.data(), g.w_bf16.size() * 2) == 0);
  CHECK(f.load("i32").view.ptr<int32_t>()[1] == -2);
  CHECK(f.load("table").view.dtype == DType::I64);
  CHECK(f.load("empty").view.numel() == 0);
  CHECK(has(io_error([&] { f.load("nope"); }), "no tensor named 'nope'"));
}

TEST_CASE("safetensors: a tensor at an unaligned offset is copied, not misread", "[safetensors]") {
  TempDir d;
  const uint8_t three[3] = {7, 8, 9};
  const float values[4] = {1.5f, -2.25f, 3.0f, 0.125f};
  // "a" (3 bytes) puts "b" at data offset 3; the writer pads the header to 8, so b's address is
  // 3 mod 8 in the mapping.
  const std::string path = d.file("u.safetensors");
  write_safetensors(path, {{"a", StDType::U8, {3}, three}, {"b", StDType::F32, {4}, values}});
  const SafetensorsFile f = SafetensorsFile::open(path);
  const HostTensor b = f.load("b");
  CHECK(reinterpret_cast<uintptr_t>(b.view.data) % 4 == 0);
  CHECK(std::memcmp(b.view.data, values, sizeof values) == 0);
  // Opening succeeds for any defined dtype; loading wants a router dtype.
  CHECK(has(io_error([&] { f.load("a"); }), "dtype: expected F32, BF16, I32 or I64, got U8"));
}

TEST_CASE("safetensors: malformed files are IoErrors naming file, tensor and problem", "[safetensors]") {
  TempDir d;
  const auto open_error = [&](const std::string& path) {
    return io_error([&] { SafetensorsFile::open(path); });
  };

  SECTION("shorter than the header length") {
    const std::string p = d.file("short.safetensors");
    write_text(p, "abc");
    const std::string m = open_error(p);
    CHECK(has(m, "short.safetensors"));
    CHECK(has(m, "truncated"));
  }
  SECTION("header length past the end of the file") {
    const std::string p = raw_file(d, "{}", 0);
    write_text(p, std::string("\xff\x00\x00\x00\x00\x00\x00\x00{}", 10));
    CHECK(has(open_error(p), "header length past end of file"));
  }
  SECTION("truncated data: offsets out of the file") {
    const std::string p = raw_file(d, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 12);
    const std::string m = open_error(p);
    CHECK(has(m, "tensor 'w'"));
    CHECK(has(m, "offsets out of file"));
  }
  SECTION("header length above the limit") {
    const std::string p = d.file("huge.safetensors");
    {
      std::string head(8, '\0');
      const uint64_t len = kMaxSafetensorsHeader + 1;
      for (int i = 0; i < 8; ++i) head[static_cast<size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xFF);
      write_text(p, head);
    }
    fs::resize_file(p, kMaxSafetensorsHeader + 16);  // sparse: no real 100 MB written
    CHECK(has(open_error(p), "exceeds the limit"));
  }
  SECTION("bad JSON") {
    CHECK(has(open_error(raw_file(d, "{\"w\": {", 0)), "bad JSON"));
    CHECK(has(open_error(raw_file(d, "[1, 2]", 0)), "expected a JSON object"));
  }
  SECTION("offsets: end before begin") {
    const std::string m = open_error(raw_file(d, R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}})", 8));
    CHECK(has(m, "tensor 'w'"));
    CHECK(has(m, "end before begin"));
  }
  SECTION("overlapping ranges") {
    const std::string m = open_error(raw_file(
        d, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
        12));
    CHECK(has(m, "overlapping data ranges"));
    CHECK(has(m, "'a'"));
    CHECK(has(m, "'b'"));
  }
  SECTION("size is not product(shape) times the dtype size") {
    const std::string m = open_error(raw_file(d, R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}})", 8));
    CHECK(has(m, "tensor 'w'"));
    CHECK(has(m, "size mismatch"));
    CHECK(has(m, "needs 12 bytes"));
  }
  SECTION("unknown dtype") {
    const std::string m = open_error(raw_file(d, R"({"w":{"dtype":"F13","shape":[1],"data_offsets":[0,2]}})", 2));
    CHECK(has(m, "unknown dtype 'F13'"));
  }
  SECTION("missing or mistyped fields") {
    CHECK(has(open_error(raw_file(d, R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4)), "missing \"shape\""));
    CHECK(has(open_error(raw_file(d, R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)),
              "non-negative integer"));
    CHECK(has(open_error(raw_file(d, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4)),
              "data_offsets: expected [begin, end]"));
    CHECK(has(open_error(raw_file(d, R"({"__metadata__":{"n":1}})", 0)), "__metadata__"));
  }
  SECTION("a tensor name twice") {
    CHECK(has(open_error(raw_file(
                  d, R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", 2)),
              "'w' appears twice"));
  }
  SECTION("an empty tensor whose other extents overflow int64") {
    // [0, 2^32, 2^32] holds 0 bytes, but numel() and a loaded view's strides multiplied the extents.
    const std::string m = open_error(
        raw_file(d, R"({"w":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}})", 0));
    CHECK(has(m, "tensor 'w'"));
    CHECK(has(m, "fits in int64"));
    const SafetensorsFile f = SafetensorsFile::open(
        raw_file(d, R"({"w":{"dtype":"F32","shape":[0,3037000499,3037000499],"data_offsets":[0,0]}})", 0));
    CHECK(f.load("w").view.numel() == 0);
  }
  SECTION("JSON nested a million levels deep: an error, not a stack overflow") {
    const size_t depth = 1000000;
    const std::string nested = std::string(depth, '[') + std::string(depth, ']');
    for (const std::string& json :
         {R"({"w":{"dtype":"U8","shape":)" + nested + R"(,"data_offsets":[0,0]}})",
          R"({"__metadata__":{"k":)" + nested + "}}",
          R"({"w":{"dtype":"U8","shape":[],"data_offsets":[0,1],"extra":)" + nested + "}}"}) {
      CHECK(has(open_error(raw_file(d, json, 1)), "levels of nesting"));
    }
    // 64 levels are fine (and then a bad value is shown in full).
    const std::string ok = std::string(61, '[') + std::string(61, ']');
    CHECK(has(open_error(raw_file(d, R"({"w":{"dtype":"U8","shape":)" + ok + R"(,"data_offsets":[0,0]}})", 0)),
              "expected a non-negative integer, got [[["));
  }
  SECTION("from memory: the same checks, no file") {
    const std::string json = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
    bytes += json + std::string(8, '\x01');
    const auto* p = reinterpret_cast<const std::byte*>(bytes.data());
    const SafetensorsFile f = SafetensorsFile::from_memory(nullptr, p, bytes.size(), "mem");
    CHECK(f.path() == "mem");
    CHECK(f.info("w").file == "mem");
    CHECK(f.load("w").view.numel() == 2);
    CHECK(has(io_error([&] { SafetensorsFile::from_memory(nullptr, p, bytes.size() - 1, "mem"); }),
              "'mem': bad safetensors header: tensor 'w'"));
    CHECK(has(io_error([&] { SafetensorsFile::from_memory(nullptr, p, 7, "mem"); }), "'mem': truncated"));
  }
  SECTION("a directory") { CHECK(has(open_error(d.path.string()), "expected a regular file")); }
  SECTION("gaps between ranges and sub-byte dtypes are fine") {
    const SafetensorsFile f = SafetensorsFile::open(raw_file(
        d, R"({"a":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]},"b":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[8,10]}})", 16));
    CHECK(f.tensors().size() == 2);
    CHECK(has(open_error(raw_file(d, R"({"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2)), "fractional"));
  }
}

TEST_CASE("router tensor names of the known namings", "[safetensors]") {
  const auto p = parse_router_tensor_name("model.layers.12.mlp.gate.e_score_correction_bias");
  REQUIRE(p);
  CHECK(p->layer == 12);
  CHECK(p->naming == RouterNaming::Hf);
  CHECK(p->role == RouterRole::Bias);
  const auto q = parse_router_tensor_name("layers.0.ffn.gate.tid2eid");
  REQUIRE(q);
  CHECK(q->naming == RouterNaming::DeepSeek);
  CHECK(q->role == RouterRole::HashTable);
  CHECK(parse_router_tensor_name("model.layers.3.block_sparse_moe.gate.weight")->naming == RouterNaming::Mixtral);
  for (const char* other : {"model.layers.3.mlp.gate_proj.weight", "model.layers.03.mlp.gate.weight",
                            "layers.x.ffn.gate.weight", "model.layers.3.mlp.gate.weight.scale",
                            "model.layers.3.mlp.experts.0.gate.weight", "layers.2.ffn.gate.e_score_correction_bias",
                            "model.embed_tokens.weight"})
    CHECK_FALSE(parse_router_tensor_name(other));
  CHECK(*router_tensor_name(RouterNaming::DeepSeek, 4, RouterRole::Bias) == "layers.4.ffn.gate.bias");
  CHECK_FALSE(router_tensor_name(RouterNaming::Mixtral, 4, RouterRole::Bias));

  const CheckpointTensor bias{"layers.2.ffn.gate.bias", "f", StDType::F32, {8}};
  CHECK(has(io_error([&] { group_router_layers({bias}, "ck"); }), "without a gate weight 'layers.2.ffn.gate.weight'"));
  const CheckpointTensor w_hf{"model.layers.2.mlp.gate.weight", "f", StDType::F32, {8, 4}};
  const CheckpointTensor w_ds{"layers.2.ffn.gate.weight", "f", StDType::F32, {8, 4}};
  CHECK(has(io_error([&] { group_router_layers({w_hf, w_ds}, "ck"); }), "two namings"));
}

TEST_CASE("checkpoint: sharded HF DeepSeek naming with an index and config.json", "[safetensors]") {
  TempDir d;
  const Gate g1(1.0f), g2(2.0f);
  const std::vector<float> embed(16, 0.5f);
  write_safetensors(d.file("model-00001-of-00002.safetensors"),
                    {{"model.embed_tokens.weight", StDType::F32, {1, 16}, embed.data()},
                     {"model.layers.1.mlp.gate.weight", StDType::BF16, {g1.E, g1.H}, g1.w_bf16.data()},
                     {"model.layers.1.mlp.gate.e_score_correction_bias", StDType::F32, {g1.E}, g1.b.data()}});
  write_safetensors(d.file("model-00002-of-00002.safetensors"),
                    {{"model.layers.2.mlp.gate.weight", StDType::F32, {g2.E, g2.H}, g2.w.data()},
                     {"model.layers.2.mlp.gate_proj.weight", StDType::F32, {1, 16}, embed.data()}});
  write_text(d.file("model.safetensors.index.json"), R"({"metadata": {"total_size": 1},
    "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                   "model.layers.1.mlp.gate.weight": "model-00001-of-00002.safetensors",
                   "model.layers.1.mlp.gate.e_score_correction_bias": "model-00001-of-00002.safetensors",
                   "model.layers.2.mlp.gate.weight": "model-00002-of-00002.safetensors",
                   "model.layers.2.mlp.gate_proj.weight": "model-00002-of-00002.safetensors"}})");
  write_text(d.file("config.json"), R"({"hidden_size": 16, "n_routed_experts": 8, "num_experts_per_tok": 2,
    "scoring_func": "sigmoid", "routed_scaling_factor": 2.5, "n_group": 4, "topk_group": 2,
    "norm_topk_prob": true, "topk_method": "noaux_tc"})");

  const Checkpoint c = Checkpoint::open(d.path.string());
  CHECK(c.shard_count() == 2);
  CHECK(c.tensor_names().size() == 5);
  const auto layers = c.find_router_layers();
  REQUIRE(layers.size() == 2);
  CHECK(layers[0].index == 1);
  CHECK(layers[0].naming == RouterNaming::Hf);
  CHECK(layers[0].weight.dtype == StDType::BF16);
  CHECK(layers[0].weight.shape == std::vector<int64_t>{8, 16});
  REQUIRE(layers[0].bias);
  CHECK(layers[0].bias->shape == std::vector<int64_t>{8});
  CHECK_FALSE(layers[0].hashed());
  CHECK(layers[1].index == 2);
  CHECK_FALSE(layers[1].bias);

  const HostTensor w2 = c.load("model.layers.2.mlp.gate.weight");
  CHECK(std::memcmp(w2.view.data, g2.w.data(), g2.w.size() * 4) == 0);
  const HostTensor b1 = c.load(layers[0].bias->name);
  CHECK(std::memcmp(b1.view.data, g1.b.data(), g1.b.size() * 4) == 0);
  CHECK(has(io_error([&] { c.router_layer(7); }), "expected one of the router layers [1 2], got 7"));
  CHECK(c.router_layer(2).weight.name == "model.layers.2.mlp.gate.weight");

  const auto hint = c.config_hint();
  REQUIRE(hint);
  CHECK(*hint->hidden == 16);
  CHECK(*hint->experts == 8);
  CHECK(*hint->top_k == 2);
  CHECK(*hint->score == moerouter::ScoreFn::Sigmoid);
  CHECK(*hint->groups == 4);
  CHECK(*hint->topk_groups == 2);
  CHECK(*hint->scale == 2.5f);
  CHECK(*hint->renormalize);
  CHECK(hint->notes.empty());

  // A single shard opened as a file.
  const Checkpoint one = Checkpoint::open(d.file("model-00002-of-00002.safetensors"));
  CHECK(one.shard_count() == 1);
  CHECK(one.find_router_layers().size() == 1);
}

TEST_CASE("checkpoint: DeepSeek's own naming without an index, hash layers", "[safetensors]") {
  TempDir d;
  const Gate g0(0.0f), g1(1.0f);
  write_safetensors(d.file("model0-mp2.safetensors"),
                    {{"layers.0.ffn.gate.weight", StDType::BF16, {g0.E, g0.H}, g0.w_bf16.data()},
                     {"layers.0.ffn.gate.tid2eid", StDType::I64, {g0.vocab, g0.k}, g0.table.data()}});
  write_safetensors(d.file("model1-mp2.safetensors"),
                    {{"layers.1.ffn.gate.weight", StDType::BF16, {g1.E, g1.H}, g1.w_bf16.data()},
                     {"layers.1.ffn.gate.bias", StDType::F32, {g1.E}, g1.b.data()}});
  const Checkpoint c = Checkpoint::open(d.path.string());
  CHECK(c.shard_count() == 2);
  CHECK_FALSE(c.config_hint());
  const auto layers = c.find_router_layers();
  REQUIRE(layers.size() == 2);
  CHECK(layers[0].naming == RouterNaming::DeepSeek);
  REQUIRE(layers[0].hashed());
  CHECK(layers[0].tid2eid->shape == std::vector<int64_t>{5, 2});
  CHECK_FALSE(layers[0].bias);
  CHECK(layers[1].bias);
  const HostTensor t = c.load(layers[0].tid2eid->name);
  CHECK(t.view.dtype == DType::I64);
  CHECK(t.view.ptr<int64_t>()[3] == g0.table[3]);

  // The same tensor in two unindexed files is ambiguous.
  write_safetensors(d.file("model2-mp2.safetensors"),
                    {{"layers.1.ffn.gate.bias", StDType::F32, {g1.E}, g1.b.data()}});
  CHECK(has(io_error([&] { Checkpoint::open(d.path.string()); }), "is in both"));
}

TEST_CASE("checkpoint: bad directories and index files", "[safetensors]") {
  TempDir d;
  CHECK(has(io_error([&] { Checkpoint::open(d.path.string()); }), "got neither"));
  CHECK(has(io_error([&] { Checkpoint::open(d.file("missing")); }), "no such file or directory"));

  const Gate g(1.0f);
  write_safetensors(d.file("s.safetensors"), {{"layers.0.ffn.gate.weight", StDType::F32, {g.E, g.H}, g.w.data()}});
  const std::string index = d.file("model.safetensors.index.json");

  write_text(index, R"({"weight_map": {"layers.0.ffn.gate.weight": "nope.safetensors"}})");
  CHECK(has(io_error([&] { Checkpoint::open(d.path.string()); }), "shard 'nope.safetensors' does not exist"));
  write_text(index, R"({"weight_map": {"layers.0.ffn.gate.weight": "../s.safetensors"}})");
  CHECK(has(io_error([&] { Checkpoint::open(d.path.string()); }), "inside the checkpoint directory"));
  write_text(index, R"({"weight_map": {"layers.0.ffn.gate.weight": 3}})");
  CHECK(has(io_error([&] { Checkpoint::open(d.path.string()); }), "expected a file name"));
  write_text(index, R"({"weights": {}})");
  CHECK(has(io_error([&] { Checkpoint::open(d.path.string()); }), "weight_map"));
  write_text(index, "{");
  CHECK(has(io_error([&] { Checkpoint::open(d.path.string()); }), "bad JSON"));
  // A shard name nested a million levels deep: an error, not a stack overflow showing it.
  write_text(index, R"({"weight_map": {"layers.0.ffn.gate.weight": )" + std::string(1000000, '[') +
                        std::string(1000000, ']') + "}}");
  CHECK(has(io_error([&] { Checkpoint::open(d.path.string()); }), "levels of nesting"));

  // The index says the shard holds a tensor it does not hold: found when the tensor is read.
  write_text(index, R"({"weight_map": {"layers.0.ffn.gate.weight": "s.safetensors",
                                       "layers.0.ffn.gate.bias": "s.safetensors"}})");
  const Checkpoint c = Checkpoint::open(d.path.string());
  CHECK(has(io_error([&] { c.find_router_layers(); }), "'layers.0.ffn.gate.bias' in"));
  CHECK(has(io_error([&] { c.info("x"); }), "no tensor named 'x'"));
}

TEST_CASE("config.json hints", "[safetensors]") {
  const RouterConfigHint mixtral = parse_hf_config(
      R"({"hidden_size": 4096, "num_local_experts": 8, "num_experts_per_tok": 2})", "m");
  CHECK(*mixtral.experts == 8);
  CHECK(*mixtral.score == moerouter::ScoreFn::Softmax);
  CHECK(mixtral.notes.size() == 1);
  CHECK_FALSE(mixtral.renormalize);

  const RouterConfigHint greedy = parse_hf_config(
      R"({"text_config": {"n_routed_experts": 64, "n_group": 8, "topk_group": 3, "topk_method": "greedy",
          "scoring_func": "softmax", "norm_topk_prob": false}})", "g");
  CHECK(*greedy.experts == 64);  // found in text_config
  CHECK(*greedy.groups == 1);    // greedy top-k ignores n_group
  CHECK_FALSE(greedy.topk_groups);
  CHECK_FALSE(*greedy.renormalize);

  // DeepSeek's own inference config (ModelArgs names).
  const RouterConfigHint ds = parse_hf_config(
      R"({"dim": 7168, "n_routed_experts": 256, "n_activated_experts": 8, "n_expert_groups": 8,
          "n_limited_groups": 4, "score_func": "sigmoid", "route_scale": 2.5})", "d");
  CHECK(*ds.hidden == 7168);
  CHECK(*ds.top_k == 8);
  CHECK(*ds.groups == 8);
  CHECK(*ds.topk_groups == 4);
  CHECK(*ds.score == moerouter::ScoreFn::Sigmoid);
  CHECK(*ds.scale == 2.5f);
  CHECK(*ds.renormalize);
  CHECK_FALSE(*parse_hf_config(R"({"score_func": "softmax"})", "d").renormalize);

  CHECK(parse_hf_config(R"({"scoring_func": "relu", "n_routed_experts": 4})", "r").notes.size() == 1);
  CHECK(has(io_error([] { parse_hf_config(R"({"num_experts_per_tok": "8"})", "c.json"); }),
            "c.json: \"num_experts_per_tok\": expected an integer"));
  CHECK(has(io_error([] { parse_hf_config("nope", "c.json"); }), "bad JSON"));
  // Integers past the field's range are errors, not wrapped (2^32 + 2 experts per token is not 2).
  CHECK(has(io_error([] { parse_hf_config(R"({"num_experts_per_tok": 4294967298})", "c.json"); }),
            "\"num_experts_per_tok\": expected an integer in [-2^31, 2^31), got 4294967298"));
  CHECK(has(io_error([] { parse_hf_config(R"({"hidden_size": 18446744073709551615})", "c.json"); }),
            "\"hidden_size\": expected an integer in [-2^63, 2^63)"));
  CHECK(*parse_hf_config(R"({"n_group": -2147483648, "dim": -9223372036854775808})", "c.json").groups == INT32_MIN);
  // A deeply nested value shown in a message used to overflow the stack.
  const std::string nested = std::string(1000000, '[') + std::string(1000000, ']');
  CHECK(has(io_error([&] { parse_hf_config(R"({"hidden_size": )" + nested + "}", "c.json"); }),
            "c.json: bad JSON: expected at most 64 levels of nesting"));
  CHECK(has(io_error([&] { parse_hf_config(R"({"unused": )" + nested + "}", "c.json"); }), "levels of nesting"));
}

#endif  // MOEROUTER_HAVE_SAFETENSORS
