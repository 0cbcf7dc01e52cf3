// `moerouter route`: route hidden states from .npy files with gate tensors from .npy files or a
// checkpoint layer; write weights and ids (and optionally logits, counts, the dispatch layout) as
// .npy. Nothing is written unless everything (reading, config, route()) succeeded, and then all
// outputs are staged together and moved into place at once (io/atomic_file.hpp).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
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
  std::optional<std::string> out_layout;  // a directory: counts, expert_offsets, token_slots .npy
  bool validate = false;
};

// The files of --out-layout DIR, in the order they are written and named in messages.
struct LayoutPaths {
  std::string counts, expert_offsets, token_slots;
};

LayoutPaths layout_paths(const std::string& dir) {
  const std::filesystem::path d(dir);
  return {(d / "counts.npy").string(), (d / "expert_offsets.npy").string(),
          (d / "token_slots.npy").string()};
}

// The --out-layout directory, created (with missing parents) just before the outputs are staged.
// Directories this run created are removed again unless keep() was called, so a failed write
// leaves the file system as it found it (a directory that is no longer empty stays).
class OutputDirectory {
 public:
  explicit OutputDirectory(const std::string& dir) {
    std::error_code ec;
    for (std::filesystem::path p(dir); !p.empty() && !std::filesystem::exists(p, ec);
         p = p.parent_path()) {
      created_.push_back(p);  // deepest first
      if (p == p.parent_path()) break;
    }
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      remove_created();
      fail(ErrorCode::IoError, "--out-layout '", dir, "': cannot create the directory: ", ec.message());
    }
  }
  OutputDirectory(const OutputDirectory&) = delete;
  OutputDirectory& operator=(const OutputDirectory&) = delete;
  ~OutputDirectory() { remove_created(); }
  void keep() { created_.clear(); }

 private:
  void remove_created() noexcept {
    std::error_code ec;
    for (const auto& p : created_) std::filesystem::remove(p, ec);  // fails (ignored) unless empty
    created_.clear();
  }
  std::vector<std::filesystem::path> created_;
};

// Caught before the (possibly long) route() rather than when writing.
void check_distinct_outputs(const RouteArgs& a) {
  std::vector<std::string> paths = {a.out_weights, a.out_ids};
  if (a.out_logits) paths.push_back(*a.out_logits);
  if (a.out_counts) paths.push_back(*a.out_counts);
  if (a.out_layout) {
    const LayoutPaths l = layout_paths(*a.out_layout);
    paths.insert(paths.end(), {l.counts, l.expert_offsets, l.token_slots});
  }
  std::set<std::string> seen;
  for (const std::string& p : paths)
    if (!seen.insert(p).second)
      fail(ErrorCode::InvalidArgument, "output paths: expected distinct files, got '", p, "' twice");
}

// An existing non-directory in the place of --out-layout is caught before the (possibly long)
// route(); a missing directory is created only once routing succeeded.
void check_layout_dir(const RouteArgs& a) {
  if (!a.out_layout) return;
  if (a.out_layout->empty())
    fail(ErrorCode::InvalidArgument, "--out-layout: expected a directory path, got ''");
  std::error_code ec;
  const auto st = std::filesystem::status(*a.out_layout, ec);
  if (std::filesystem::exists(st) && !std::filesystem::is_directory(st))
    fail(ErrorCode::IoError, "--out-layout '", *a.out_layout, "': expected a directory, got a file");
}

void run_route(const RouteArgs& a) {
  check_distinct_outputs(a);
  check_layout_dir(a);
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
  // --out-counts and the layout's counts.npy share one array (the same numbers).
  const bool want_counts = a.out_counts || a.out_layout;
  std::vector<int64_t> counts(want_counts ? static_cast<size_t>(E) : 0);
  std::vector<int64_t> offsets(a.out_layout ? static_cast<size_t>(E + 1) : 0);
  std::vector<int64_t> slots(a.out_layout ? static_cast<size_t>(n * k) : 0);

  RouteOptions opt;
  opt.threads = a.run.threads;
  opt.validate = a.validate;
  if (a.out_logits) opt.logits_out = TensorView::matrix(logits.data(), DType::F32, n, E);
  if (want_counts) opt.counts_out = TensorView::vector(counts.data(), DType::I64, E);
  if (a.out_layout) {
    opt.expert_offsets_out = TensorView::vector(offsets.data(), DType::I64, E + 1);
    opt.token_slots_out = TensorView::vector(slots.data(), DType::I64, n * k);
  }
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
  std::optional<OutputDirectory> layout_dir;
  if (a.out_layout) {
    const LayoutPaths l = layout_paths(*a.out_layout);
    outputs.push_back({l.counts, NpyDType::I64, {E}, counts.data()});
    outputs.push_back({l.expert_offsets, NpyDType::I64, {E + 1}, offsets.data()});
    outputs.push_back({l.token_slots, NpyDType::I64, {n * k}, slots.data()});
    layout_dir.emplace(*a.out_layout);
  }
  // Every file goes to its temporary first and only then are all renamed into place: a failure
  // while staging (a full disk, a missing directory) leaves no output and no layout directory.
  io::write_npy_all(outputs);
  if (layout_dir) layout_dir->keep();

  if (ckpt) std::printf("moerouter route: %s, config %s\n", ckpt->describe().c_str(), describe(cfg).c_str());
  std::printf("moerouter route: %lld rows, device %s (backend %s, kernel %s), gemm %s, %.3f ms, "
              "%lld non-finite rows\n",
              static_cast<long long>(stats.rows), to_string(stats.device), router->backend_name(),
              stats.kernel, to_string(stats.gemm), ms, static_cast<long long>(stats.nonfinite_rows));
  if (a.out_layout)
    std::printf("moerouter route: dispatch layout of %lld slots over %lld experts -> %s "
                "(counts.npy, expert_offsets.npy, token_slots.npy)\n",
                static_cast<long long>(n * k), static_cast<long long>(E), a.out_layout->c_str());
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
  cmd->add_option("--out-layout", args->out_layout,
                  "The dispatch layout a grouped expert GEMM consumes, all <i8, in DIR (created if "
                  "missing): counts.npy [E]; expert_offsets.npy [E+1] (offsets[e] = slots routed to "
                  "experts < e); token_slots.npy [N*k], the slots token*k+rank grouped by expert "
                  "(experts ascending, slots ascending within an expert)")
      ->type_name("DIR")->group(out);

  add_run_options(*cmd, args->run);
  cmd->add_flag("--validate", args->validate, "Fail (write nothing) when any row has NaN/inf logits")
      ->group("Execution");
  cmd->callback([args] { run_route(*args); });
}

}  // namespace moerouter::cli
