// `moerouter route`: route hidden states from .npy files with gate tensors from .npy files or a
// checkpoint layer; write weights and ids as .npy. Nothing is written unless everything
// (reading, config, route()) succeeded.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/config_options.hpp"
#include "cli/input_options.hpp"
#include "io/npy.hpp"
#include "moerouter/error.hpp"
#include "moerouter/registry.hpp"

namespace moerouter::cli {

namespace {

using io::NpyDType;

struct RouteArgs {
  ConfigOptions config;
  RunOptions run;
  InputOptions inputs;
  std::string out_weights, out_ids;
  std::optional<std::string> out_logits, out_counts;
  bool validate = false;
};

// Caught before the (possibly long) route() rather than when writing.
void check_distinct_outputs(const RouteArgs& a) {
  std::set<std::string> seen;
  for (const std::string* p : {&a.out_weights, &a.out_ids, a.out_logits ? &*a.out_logits : nullptr,
                               a.out_counts ? &*a.out_counts : nullptr})
    if (p && !seen.insert(*p).second)
      fail(ErrorCode::InvalidArgument, "output paths: expected distinct files, got '", *p, "' twice");
}

void run_route(const RouteArgs& a) {
  check_distinct_outputs(a);
  const std::optional<CheckpointLayer> ckpt = open_checkpoint_layer(a.inputs);
  RouterConfig cfg = input_config(a.config, ckpt);
  cfg.gemm = run_gemm(a.run);
  const Device device = run_device(a.run);
  const int64_t E = cfg.experts, k = cfg.top_k;

  // Inputs are checked against the config here, so messages name the file or checkpoint tensor;
  // route() checks again.
  const RouterInputs in = load_inputs(a.inputs, ckpt, cfg, /*complete=*/true);
  const int64_t n = in.x->shape[0];

  std::vector<float> weights(static_cast<size_t>(n * k));
  std::vector<int32_t> ids(static_cast<size_t>(n * k));
  std::vector<float> logits(a.out_logits ? static_cast<size_t>(n * E) : 0);
  std::vector<int64_t> counts(a.out_counts ? static_cast<size_t>(E) : 0);

  RouteOptions opt;
  opt.threads = a.run.threads;
  opt.validate = a.validate;
  if (a.out_logits) opt.logits_out = TensorView::matrix(logits.data(), DType::F32, n, E);
  if (a.out_counts) opt.counts_out = TensorView::vector(counts.data(), DType::I64, E);
  opt.token_ids = in.token_ids;
  opt.hash_table = in.hash_table;

  auto router = make_router(cfg, device);
  router->set_weights(*in.weight, in.bias);
  const auto t0 = std::chrono::steady_clock::now();
  const RouteStats stats = router->route(*in.x, TensorView::matrix(weights.data(), n, k),
                                         TensorView::matrix(ids.data(), n, k), opt);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  std::vector<io::NpyOutput> outputs = {
      {a.out_weights, NpyDType::F32, {n, k}, weights.data()},
      {a.out_ids, NpyDType::I32, {n, k}, ids.data()},
  };
  if (a.out_logits) outputs.push_back({*a.out_logits, NpyDType::F32, {n, E}, logits.data()});
  if (a.out_counts) outputs.push_back({*a.out_counts, NpyDType::I64, {E}, counts.data()});
  io::write_npy_all(outputs);

  if (ckpt) std::printf("moerouter route: %s, config %s\n", ckpt->describe().c_str(), describe(cfg).c_str());
  std::printf("moerouter route: %lld rows, device %s (backend %s, kernel %s), gemm %s, %.3f ms, "
              "%lld non-finite rows\n",
              static_cast<long long>(stats.rows), to_string(stats.device), router->backend_name(),
              stats.kernel, to_string(stats.gemm), ms, static_cast<long long>(stats.nonfinite_rows));
}

}  // namespace

void add_route_command(CLI::App& app) {
  auto args = std::make_shared<RouteArgs>();
  CLI::App* cmd = app.add_subcommand(
      "route", "Route hidden states X [N,H] with gate weights W [E,H] (.npy files, or one layer of a "
               "safetensors checkpoint); write the routing weights [N,k] <f4 and expert ids [N,k] <i4");
  add_config_options(*cmd, args->config);

  add_input_options(*cmd, args->inputs, /*x_required=*/true);

  const char* out = "Outputs (written only when routing succeeded)";
  cmd->add_option("--out-weights", args->out_weights, "Routing weights [N,k] <f4")->type_name("FILE.npy")->required()->group(out);
  cmd->add_option("--out-ids", args->out_ids, "Expert ids [N,k] <i4, best first")->type_name("FILE.npy")->required()->group(out);
  cmd->add_option("--out-logits", args->out_logits, "The backend's logits [N,E] <f4")->type_name("FILE.npy")->group(out);
  cmd->add_option("--out-counts", args->out_counts, "Tokens routed to each expert [E] <i8")->type_name("FILE.npy")->group(out);

  add_run_options(*cmd, args->run);
  cmd->add_flag("--validate", args->validate, "Fail (write nothing) when any row has NaN/inf logits")
      ->group("Execution");
  cmd->callback([args] { run_route(*args); });
}

}  // namespace moerouter::cli
