// `moerouter bench`: time the router per preset x N x gemm mode on the CPU and/or a CUDA device
// and judge every figure against a floor measured in the same run (DESIGN.md §5): the FMA peak on
// the CPU; max(bytes / copy bandwidth, FLOPs / GEMM rate) on the GPU. A readable table, JSON
// lines (--json) for tools/bench/report.py, and a log-log plot (--plot).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "cli/bench_cpu.hpp"
#include "cli/bench_cuda.hpp"
#include "cli/bench_plot.hpp"
#include "cli/bench_report.hpp"
#include "cli/commands.hpp"
#include "moerouter/error.hpp"
#include "moerouter/registry.hpp"

namespace moerouter::cli {

namespace {

struct BenchArgs {
  std::vector<std::string> devices{"auto"};
  std::vector<std::string> presets{"dsv4-pro"};
  std::vector<int64_t> ns{1, 256, 4096};
  std::vector<std::string> gemms{"canonical"};
  std::vector<int> threads{0};
  double min_time_s = 0.5;
  uint64_t seed = 1;
  bool json = false;
  std::string plot;
};

template <class T>
void append_unique(std::vector<T>& v, const T& x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

// Resolved device list: auto -> cuda when built and present, else cpu; duplicates dropped. A CUDA
// request that cannot be served fails here, before anything is measured.
std::vector<Device> resolve_devices(const std::vector<std::string>& names) {
  std::vector<Device> out;
  for (const std::string& name : names) {
    Device d = parse_device(name);
    if (d == Device::Auto) d = cuda_bench_usable() ? Device::Cuda : Device::Cpu;
    if (d == Device::Cuda) require_cuda_bench();
    append_unique(out, d);
  }
  return out;
}

BenchPlan make_plan(const BenchArgs& a) {
  BenchPlan plan;
  for (const std::string& name : a.presets) {
    const RouterConfig cfg = preset(name);  // throws, listing the known presets
    if (std::none_of(plan.presets.begin(), plan.presets.end(), [&](const auto& p) { return p.first == name; }))
      plan.presets.emplace_back(name, cfg);
  }
  for (int64_t n : a.ns) {
    if (n < 1) fail_arg(ErrorCode::InvalidArgument, "--n", "token counts >= 1", n);
    append_unique(plan.ns, n);
  }
  for (const std::string& g : a.gemms) append_unique(plan.modes, parse_gemm_mode(g));
  for (int t : a.threads) {
    if (t < 0) fail_arg(ErrorCode::InvalidArgument, "--threads", "thread counts >= 0 (0 = OpenMP's default)", t);
    append_unique(plan.threads, t);
  }
  if (!(a.min_time_s >= 0 && a.min_time_s <= 3600))
    fail_arg(ErrorCode::InvalidArgument, "--min-time", "seconds in [0, 3600]", a.min_time_s);
  plan.min_time_s = a.min_time_s;
  plan.seed = a.seed;
  return plan;
}

void run_bench(const BenchArgs& a) {
  const BenchPlan plan = make_plan(a);
  const std::vector<Device> devices = resolve_devices(a.devices);
  if (!a.plot.empty()) check_plot_ready(a.plot);  // before minutes of measuring, not after
  BenchOutput out(a.json);
  for (Device d : devices) {
    if (d == Device::Cpu)
      run_cpu_bench(plan, out);
    else
      run_cuda_bench(plan, out);
  }
  if (!a.plot.empty()) write_plot(out.rows(), a.plot);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Time the router (random bf16 x and W) per preset x N x gemm mode; report each median "
      "against a floor measured in the same run (CPU: FMA peak; CUDA: copy bandwidth and GEMM rate)");
  cmd->add_option("--device", args->devices, "auto (CUDA when built and present, else CPU), cpu, cuda; comma list")
      ->delimiter(',')
      ->type_name("DEVICE[,DEVICE]")
      ->capture_default_str();
  cmd->add_option("--preset", args->presets, "Presets: " + [] {
        std::string s;
        for (const auto& n : preset_names()) s += (s.empty() ? "" : ", ") + n;
        return s;
      }())
      ->delimiter(',')
      ->type_name("NAME[,NAME]")
      ->capture_default_str();
  cmd->add_option("--n", args->ns, "Tokens per call (comma list)")
      ->delimiter(',')
      ->type_name("N[,N]")
      ->capture_default_str();
  cmd->add_option("--gemm", args->gemms, "canonical, fp32, bf16 (comma list)")
      ->delimiter(',')
      ->type_name("MODE[,MODE]")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads (comma list); 0 = OpenMP's default")
      ->delimiter(',')
      ->type_name("T[,T]")
      ->capture_default_str();
  cmd->add_option("--min-time", args->min_time_s,
                  "Seconds of timed repetitions per row, after warm-up (the median is reported)")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the random inputs")->capture_default_str();
  cmd->add_flag("--json", args->json, "One JSON object per row and line (for tools/bench/report.py)");
  cmd->add_option("--plot", args->plot, "Also draw us vs N (log-log, floors dashed) into this PNG "
                                        "(python3 with matplotlib)")
      ->type_name("OUT.png");
  cmd->callback([args] { run_bench(*args); });
}

}  // namespace moerouter::cli
