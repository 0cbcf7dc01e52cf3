// `moerouter golden`: golden vectors for people validating their own router kernels — the
// generated inputs, the float64 oracle's outputs, and a config.json describing both.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/config_options.hpp"
#include "cli/parallel_rows.hpp"
#include "io/atomic_file.hpp"
#include "io/npy.hpp"
#include "moerouter/error.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/reference/oracle.hpp"

namespace moerouter::cli {

namespace {

using io::NpyDType;

struct GoldenArgs {
  ConfigOptions config;
  int64_t n = 64;
  std::string kind = "random";
  uint64_t seed = 1;
  std::string dtype = "f32";
  std::optional<int64_t> hash_vocab;  // hash routing with a table of this many rows
  std::string out;
};

// What the oracle says for every row, in file layout.
struct OracleTables {
  std::vector<int32_t> ids;       // [n, k]
  std::vector<float> weights;     // [n, k], float64 weights rounded to nearest float
  std::vector<double> logits;     // [n, E]
  std::vector<double> delta;      // [n]
};

OracleTables run_oracle(const reference::Problem& p) {
  const int64_t n = p.n, k = p.cfg.top_k, E = p.cfg.experts;
  OracleTables t;
  t.ids.resize(static_cast<size_t>(n * k));
  t.weights.resize(static_cast<size_t>(n * k));
  t.logits.resize(static_cast<size_t>(n * E));
  t.delta.resize(static_cast<size_t>(n));
  parallel_rows(n, [&](int64_t row) {
    const reference::OracleRow r = reference::route_row(p, row);
    if (static_cast<int64_t>(r.ids.size()) != k || static_cast<int64_t>(r.logits.size()) != E)
      fail(ErrorCode::Internal, "oracle row ", row, ": expected ", k, " ids and ", E,
           " logits, got ", r.ids.size(), " and ", r.logits.size());
    std::copy(r.ids.begin(), r.ids.end(), t.ids.begin() + row * k);
    for (int64_t i = 0; i < k; ++i) t.weights[row * k + i] = reference::round_to_f32(r.weights[i]);
    std::copy(r.logits.begin(), r.logits.end(), t.logits.begin() + row * E);
    t.delta[row] = r.delta;
  });
  return t;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Shortest text that reads back as the same float.
std::string json_float(float f) {
  char buf[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(f));
    if (std::strtof(buf, nullptr) == f) break;
  }
  return buf;
}

std::string config_json(const GoldenArgs& a, const RouterConfig& c, reference::InputKind kind) {
  const auto line = [](const std::string& key, const std::string& value, bool last = false) {
    return "  " + json_string(key) + ": " + value + (last ? "\n" : ",\n");
  };
  std::string s = "{\n";
  s += line("contract_version", std::to_string(kContractVersion));
  s += line("canonical_chunk", std::to_string(kCanonicalChunk));
  s += line("preset", a.config.preset ? json_string(*a.config.preset) : "null");
  s += line("hidden", std::to_string(c.hidden));
  s += line("experts", std::to_string(c.experts));
  s += line("top_k", std::to_string(c.top_k));
  s += line("score", json_string(to_string(c.score)));
  s += line("groups", std::to_string(c.groups));
  s += line("topk_groups", std::to_string(c.topk_groups));
  s += line("renormalize", c.renormalize ? "true" : "false");
  s += line("scale", json_float(c.scale));
  s += line("renorm_epsilon", json_float(kRenormEpsilon));
  s += line("n", std::to_string(a.n));
  s += line("kind", json_string(reference::to_string(kind)));
  s += line("seed", std::to_string(a.seed));
  s += line("dtype", json_string(a.dtype == "bf16" ? "bfloat16" : "float32"));
  s += line("hash_vocab", a.hash_vocab ? std::to_string(*a.hash_vocab) : "null");
  s += line("files",
            "{\"x\": \"x.npy [n,H]\", \"weight\": \"weight.npy [E,H]\", \"bias\": \"bias.npy [E] <f4\", "
            "\"ids\": \"ids.npy [n,k] <i4, oracle\", \"weights\": \"weights.npy [n,k] <f4, oracle "
            "rounded to float\", \"logits\": \"logits.npy [n,E] <f8, oracle\", \"delta\": "
            "\"delta.npy [n] <f8, oracle error bound on logits\", \"token_ids\": \"token_ids.npy [n] <i4, "
            "hash routing only\", \"hash_table\": \"hash_table.npy [hash_vocab,k] <i4, hash routing "
            "only\"}",
            true);
  return s + "}\n";
}

void run_golden(const GoldenArgs& a) {
  const RouterConfig cfg = build_config(a.config);
  const reference::InputKind kind = reference::parse_input_kind(a.kind);
  const bool bf16 = a.dtype == "bf16";
  const int64_t n = a.n, H = cfg.hidden, E = cfg.experts, k = cfg.top_k;

  reference::Problem p =
      reference::generate(cfg, n, kind, a.seed, bf16 ? DType::BF16 : DType::F32, true);
  if (a.hash_vocab) reference::add_hash_routing(p, *a.hash_vocab, a.seed);
  const OracleTables oracle = run_oracle(p);

  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  if (ec) fail(ErrorCode::IoError, "--out '", a.out, "': cannot create the directory: ", ec.message());
  const std::filesystem::path dir(a.out);
  const auto at = [&](const char* name) { return (dir / name).string(); };

  io::StagedFiles files;
  const auto add = [&](const char* name, NpyDType t, std::vector<int64_t> shape, const void* data) {
    io::stage_npy(files, {at(name), t, std::move(shape), data});
  };
  if (bf16) {
    add("x.npy", NpyDType::BF16, {n, H}, p.x_bf16.data());
    add("weight.npy", NpyDType::BF16, {E, H}, p.w_bf16.data());
  } else {
    add("x.npy", NpyDType::F32, {n, H}, p.x.data());
    add("weight.npy", NpyDType::F32, {E, H}, p.w.data());
  }
  add("bias.npy", NpyDType::F32, {E}, p.bias.data());
  add("ids.npy", NpyDType::I32, {n, k}, oracle.ids.data());
  add("weights.npy", NpyDType::F32, {n, k}, oracle.weights.data());
  add("logits.npy", NpyDType::F64, {n, E}, oracle.logits.data());
  add("delta.npy", NpyDType::F64, {n}, oracle.delta.data());
  if (p.hashed()) {
    add("token_ids.npy", NpyDType::I32, {n}, p.token_ids.data());
    add("hash_table.npy", NpyDType::I32, {p.vocab, k}, p.hash_table.data());
  }
  files.add(at("config.json"), config_json(a, cfg, kind));
  files.commit();

  std::printf("moerouter golden: %lld rows of %s (%s, %s inputs, seed %llu) -> %s\n",
              static_cast<long long>(n), describe(cfg).c_str(), reference::to_string(kind),
              bf16 ? "bfloat16" : "float32", static_cast<unsigned long long>(a.seed), a.out.c_str());
}

}  // namespace

void add_golden_command(CLI::App& app) {
  auto args = std::make_shared<GoldenArgs>();
  CLI::App* cmd = app.add_subcommand(
      "golden", "Write golden vectors: inputs (x, weight, bias) and the float64 oracle's ids, "
                "weights, logits and error bound, plus config.json");
  add_config_options(*cmd, args->config);
  cmd->add_option("--n", args->n, "Rows (tokens)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--kind", args->kind, "Inputs: random, integer, ties or adversarial")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the generator")->capture_default_str();
  cmd->add_option("--dtype", args->dtype, "Dtype of x and weight: f32 or bf16")
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "bf16"}));
  cmd->add_option("--hash-vocab", args->hash_vocab,
                  "Hash routing: also write token_ids.npy and a hash_table.npy of this many rows")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", args->out, "Directory to write (created if missing)")->type_name("DIR")->required();
  cmd->callback([args] { run_golden(*args); });
}

}  // namespace moerouter::cli
