// Options shared by the subcommands: the router config (a preset and/or explicit fields) and
// how to run it (device, GEMM mode, threads).
#pragma once
#include <optional>
#include <string>

#include "io/hf_config.hpp"
#include "moerouter/config.hpp"
#include "moerouter/registry.hpp"

namespace CLI {
class App;
class Validator;
}

namespace moerouter::cli {

// --preset NAME plus explicit fields; an explicit field overrides the preset's.
struct ConfigOptions {
  std::optional<std::string> preset;
  std::optional<int64_t> hidden, experts;
  std::optional<int> top_k, groups, topk_groups;
  std::optional<std::string> score;
  std::optional<float> scale;
  bool no_renormalize = false;
};

void add_config_options(CLI::App& cmd, ConfigOptions& opts);
// The config the options describe, validated (throws InvalidArgument naming the bad field).
// Precedence: explicit fields, then --preset, then `fallback` (a checkpoint's config.json and
// tensor shapes), which is used only without --preset. Without either, --hidden, --experts,
// --top-k and --score are required.
RouterConfig build_config(const ConfigOptions& opts, const io::RouterConfigHint* fallback = nullptr);

// describe(cfg) without the gemm mode, for commands where the mode is not the config's to say
// (compare: each side has its own; check: their kernel's).
std::string describe_math(const RouterConfig& cfg);

// An option check for integer counts: "expected an integer >= lo, got '<text>'" (CLI11's own
// NonNegativeNumber/PositiveNumber print the double range 0 to 1.8e308 instead).
CLI::Validator integer_at_least(long long lo);

struct RunOptions {
  std::string device = "auto";
  std::string gemm = "canonical";
  int threads = 0;
};

void add_run_options(CLI::App& cmd, RunOptions& opts);
Device run_device(const RunOptions& opts);
GemmMode run_gemm(const RunOptions& opts);

}  // namespace moerouter::cli
