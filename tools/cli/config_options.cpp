#include "cli/config_options.hpp"

#include <CLI/CLI.hpp>

#include "moerouter/error.hpp"

namespace moerouter::cli {

namespace {

std::string preset_list() {
  std::string s;
  for (const auto& n : preset_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

void add_config_options(CLI::App& cmd, ConfigOptions& o) {
  const char* group = "Router config (a preset, and/or explicit fields that override it)";
  cmd.add_option("--preset", o.preset, "Named config: " + preset_list())->type_name("NAME")->group(group);
  cmd.add_option("--hidden", o.hidden, "H, the hidden size")->group(group);
  cmd.add_option("--experts", o.experts, "E, the number of experts")->group(group);
  cmd.add_option("--top-k", o.top_k, "k, experts per token")->group(group);
  cmd.add_option("--score", o.score, "Score function: sqrtsoftplus, sigmoid or softmax")->type_name("FN")->group(group);
  cmd.add_option("--groups", o.groups, "G expert groups (group-limited routing; G divides E)")->group(group);
  cmd.add_option("--topk-groups", o.topk_groups, "Groups kept per token")->group(group);
  cmd.add_flag("--no-renormalize", o.no_renormalize, "Weights = act[ids] * scale (no division by their sum)")
      ->group(group);
  cmd.add_option("--scale", o.scale, "Routed scaling factor")->group(group);
}

RouterConfig build_config(const ConfigOptions& o, const io::RouterConfigHint* fallback) {
  RouterConfig cfg;
  if (o.preset) {
    cfg = preset(*o.preset);
  } else {
    const io::RouterConfigHint none;
    const io::RouterConfigHint& f = fallback ? *fallback : none;
    std::string missing;
    if (!o.hidden && !f.hidden) missing += " --hidden";
    if (!o.experts && !f.experts) missing += " --experts";
    if (!o.top_k && !f.top_k) missing += " --top-k";
    if (!o.score && !f.score) missing += " --score";
    if (!missing.empty())
      fail_arg(ErrorCode::InvalidArgument, "config",
               "--preset NAME, or all of --hidden --experts --top-k --score" +
                   (fallback ? " (given or found in " + f.source + ")" : std::string()),
               "no" + missing);
    if (f.hidden) cfg.hidden = *f.hidden;
    if (f.experts) cfg.experts = *f.experts;
    if (f.top_k) cfg.top_k = *f.top_k;
    if (f.score) cfg.score = *f.score;
    if (f.groups) cfg.groups = *f.groups;
    if (f.topk_groups) cfg.topk_groups = *f.topk_groups;
    if (f.scale) cfg.scale = *f.scale;
    if (f.renormalize) cfg.renormalize = *f.renormalize;
  }
  if (o.hidden) cfg.hidden = *o.hidden;
  if (o.experts) cfg.experts = *o.experts;
  if (o.top_k) cfg.top_k = *o.top_k;
  if (o.score) cfg.score = parse_score_fn(*o.score);
  if (o.groups) cfg.groups = *o.groups;
  if (o.topk_groups) cfg.topk_groups = *o.topk_groups;
  if (o.scale) cfg.scale = *o.scale;
  if (o.no_renormalize) cfg.renormalize = false;
  validate(cfg);
  return cfg;
}

std::string describe_math(const RouterConfig& cfg) {
  const std::string s = describe(cfg);
  return s.substr(0, s.find(" gemm="));
}

CLI::Validator integer_at_least(long long lo) {
  const std::string want = "an integer >= " + std::to_string(lo);
  return CLI::Validator(
      [lo, want](std::string& text) -> std::string {
        long long v = 0;
        size_t used = 0;
        try {
          v = std::stoll(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != text.size() || v < lo) return "expected " + want + ", got '" + text + "'";
        return "";
      },
      "INT>=" + std::to_string(lo));
}

void add_run_options(CLI::App& cmd, RunOptions& o) {
  const char* group = "Execution";
  cmd.add_option("--device", o.device, "auto (CUDA when built and present, else CPU), cpu or cuda")
      ->type_name("DEVICE")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--gemm", o.gemm,
                 "canonical (bit-identical across backends), fp32 or bf16 (oracle-bounded)")
      ->type_name("MODE")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--threads", o.threads, "CPU threads for route(); 0 = OpenMP's default")
      ->capture_default_str()
      ->check(integer_at_least(0))
      ->group(group);
}

// The CLI hands the router host tensors, which a Device::Auto router would route on the CPU; for
// the CLI "auto" means the best device instead: CUDA when built and present (the CUDA router
// stages host tensors through device memory), else the CPU.
Device run_device(const RunOptions& o) {
  const Device d = parse_device(o.device);
  if (d != Device::Auto) return d;
  return device_available(Device::Cuda) ? Device::Cuda : Device::Cpu;
}
GemmMode run_gemm(const RunOptions& o) { return parse_gemm_mode(o.gemm); }

}  // namespace moerouter::cli
