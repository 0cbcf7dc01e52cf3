// `moerouter check`: the golden-reference service for other people's router kernels. Given the
// inputs and the ids / weights their router produced, judge every row (or a sample) against the
// float64 oracle with the near-tie-aware rules of reference/judge.hpp, explain each disagreement,
// and exit with status 1 on a real one (reference::check_routing does the work).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "cli/commands.hpp"
#include "cli/config_options.hpp"
#include "cli/input_options.hpp"
#include "cli/progress_bar.hpp"
#include "io/npy.hpp"
#include "moerouter/reference/check.hpp"
#include "moerouter/reference/from_tensors.hpp"

namespace moerouter::cli {

namespace {

using io::NpyDType;

struct CheckArgs {
  ConfigOptions config;
  InputOptions inputs;
  std::string their_ids;
  std::optional<std::string> their_weights;
  bool unordered = false;
  int64_t sample = 0;
  int64_t max_report = 20;
  int64_t max_weight_ulp = reference::kDefaultMaxWeightUlp;
};

void run_check(const CheckArgs& a) {
  const std::optional<CheckpointLayer> ckpt = open_checkpoint_layer(a.inputs);
  const RouterConfig cfg = input_config(a.config, ckpt);
  const RouterInputs in = load_inputs(a.inputs, ckpt, cfg, /*complete=*/true);
  const int64_t n = in.x->shape[0], k = cfg.top_k;

  io::NpyArray ids = io::read_npy(a.their_ids, {"--their-ids", {NpyDType::I32, NpyDType::I64}, {n, k}});
  std::optional<io::NpyArray> weights;
  if (a.their_weights) weights = io::read_npy(*a.their_weights, {"--their-weights", {NpyDType::F32}, {n, k}});

  std::printf("moerouter check: their ids '%s'%s%s against the float64 oracle\n", a.their_ids.c_str(),
              weights ? (" and weights '" + *a.their_weights + "'").c_str() : " (no weights)",
              a.unordered ? ", ids as sets" : "");
  std::printf("config: %s\ninputs: %lld rows of --x '%s', %s\n", describe_math(cfg).c_str(),
              static_cast<long long>(n), a.inputs.x->c_str(), in.weight_source.c_str());
  std::fflush(stdout);

  const reference::Problem p =
      reference::problem_from_tensors(cfg, *in.x, *in.weight, in.bias, in.token_ids, in.hash_table);
  reference::CheckOptions opt;
  opt.ordered = !a.unordered;
  opt.sample = a.sample;
  opt.max_report = a.max_report;
  opt.max_weight_ulp = a.max_weight_ulp;
  reference::CheckReport report;
  {
    ProgressBar bar("float64 oracle", a.sample > 0 ? std::min(a.sample, n) : n);
    opt.progress = [&bar](int64_t done, int64_t) { bar.update(done); };
    report = reference::check_routing(p, ids.view(), weights ? std::optional<TensorView>(weights->view())
                                                             : std::nullopt, opt);
  }

  std::printf("%s\n%s", report.summary().c_str(), report.details().c_str());
  if (!report.passed()) {
    std::printf("check: FAILED\n");
    std::fflush(stdout);
    const std::string first = report.reported.empty() ? "" : "; first: " + report.reported.front().judgement.explain;
    throw std::runtime_error("check: " + std::to_string(report.mismatch) + " rows with ids outside the "
                             "near-tie band, " + std::to_string(report.weight_errors) +
                             " rows with weight errors above " + std::to_string(report.weight_tolerance) +
                             " ulp" + first);
  }
  std::printf("check: passed\n");
}

}  // namespace

void add_check_command(CLI::App& app) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand(
      "check", "Judge another router's outputs (ids, weights) against the float64 oracle, near-tie "
               "aware; explain every disagreement (exit status 1 on a real one)");
  add_config_options(*cmd, args->config);
  add_input_options(*cmd, args->inputs, /*x_required=*/true);
  const char* theirs = "Their outputs";
  cmd->add_option("--their-ids", args->their_ids, "Their expert ids [N,k], int32 or int64")
      ->type_name("FILE.npy")->required()->group(theirs);
  cmd->add_option("--their-weights", args->their_weights, "Their routing weights [N,k], float32")
      ->type_name("FILE.npy")->group(theirs);
  cmd->add_flag("--unordered", args->unordered,
                "Their ids are not in rank order: compare as sets (weights matched by id)")->group(theirs);

  const char* rep = "Report";
  cmd->add_option("--sample", args->sample, "Judge this many rows, evenly strided (0 = every row)")
      ->capture_default_str()->check(integer_at_least(0))->group(rep);
  cmd->add_option("--max-report", args->max_report, "Disagreements explained (mismatches first)")
      ->capture_default_str()->check(integer_at_least(0))->group(rep);
  cmd->add_option("--max-weight-ulp", args->max_weight_ulp,
                  "Weight error (vs the oracle rounded to float) that fails a row; -1 = report only")
      ->capture_default_str()->check(CLI::Range(int64_t{-1}, int64_t{1} << 40))->group(rep);
  cmd->callback([args] { run_check(*args); });
}

}  // namespace moerouter::cli
