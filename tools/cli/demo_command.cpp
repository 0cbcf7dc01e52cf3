// `moerouter demo`: the built-in default. A deterministic synthetic gate (dsv4-pro unless
// --preset says otherwise; bf16 x and W, float32 bias) routed on the best device, with the
// expert-load histogram and the agreement with the float64 oracle on a sample of rows.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/config_options.hpp"
#include "cli/load_histogram.hpp"
#include "cli/oracle_agreement.hpp"
#include "moerouter/error.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/registry.hpp"

namespace moerouter::cli {

namespace {

struct DemoArgs {
  RunOptions run;
  std::string preset = "dsv4-pro";
  int64_t n = 4096;
  uint64_t seed = 1;
  int64_t sample = 256;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void run_demo(const DemoArgs& a) {
  RouterConfig cfg = preset(a.preset);
  cfg.gemm = run_gemm(a.run);
  const Device device = run_device(a.run);
  const int64_t n = a.n, k = cfg.top_k, E = cfg.experts;

  std::printf("moerouter demo: synthetic %s gate, %lld tokens, seed %llu (x, W bfloat16; bias float32)\n",
              a.preset.c_str(), static_cast<long long>(n), static_cast<unsigned long long>(a.seed));
  std::printf("config: %s\n", describe(cfg).c_str());
  std::fflush(stdout);

  const reference::Problem p =
      reference::generate(cfg, n, reference::InputKind::Random, a.seed, DType::BF16, true);

  auto router = make_router(cfg, device);
  if (!router->supports(cfg.gemm))
    fail(ErrorCode::Unsupported, "gemm: expected a mode backend '", router->backend_name(),
         "' supports, got ", to_string(cfg.gemm));
  router->set_weights(p.w_view(), p.bias_view());

  std::vector<float> weights(static_cast<size_t>(n * k));
  std::vector<int32_t> ids(static_cast<size_t>(n * k));
  std::vector<int64_t> counts(static_cast<size_t>(E));
  const TensorView x = p.x_view();

  // A small untimed call first, so one-time costs (thread pools, device context, packing
  // caches) stay out of the reported time.
  RouteOptions warm;
  warm.threads = a.run.threads;
  const int64_t wn = std::min<int64_t>(n, 64);
  router->route(TensorView::matrix(x.data, x.dtype, wn, cfg.hidden),
                TensorView::matrix(weights.data(), wn, k), TensorView::matrix(ids.data(), wn, k), warm);

  RouteOptions opt;
  opt.threads = a.run.threads;
  opt.counts_out = TensorView::vector(counts.data(), DType::I64, E);
  const auto t0 = std::chrono::steady_clock::now();
  const RouteStats stats = router->route(x, TensorView::matrix(weights.data(), n, k),
                                         TensorView::matrix(ids.data(), n, k), opt);
  const double ms = ms_since(t0);

  std::printf("device: %s (backend %s, kernel %s), gemm %s\n", to_string(stats.device),
              router->backend_name(), stats.kernel, to_string(stats.gemm));
  std::printf("time: %.3f ms for %lld tokens (%.0f tokens/s), %lld non-finite rows\n", ms,
              static_cast<long long>(n), ms > 0 ? static_cast<double>(n) / (ms / 1e3) : 0.0,
              static_cast<long long>(stats.nonfinite_rows));
  std::printf("%s", format_load_histogram(counts, n, cfg.top_k).c_str());
  std::fflush(stdout);

  const OracleAgreement agree = agree_with_oracle(p, ids, weights, a.sample);
  std::printf("%s", format_agreement(agree).c_str());
  if (agree.mismatch)
    fail(ErrorCode::Internal, "oracle agreement: expected 0 mismatching rows, got ", agree.mismatch,
         " of ", agree.rows, " (", agree.first_mismatch, ")");
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Route a deterministic synthetic gate on the best device; show time, expert load "
              "and agreement with the float64 oracle (exit status 1 on any mismatch)");
  cmd->add_option("--preset", args->preset, "Config of the synthetic gate")->capture_default_str();
  cmd->add_option("--n", args->n, "Tokens")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "Seed of the synthetic data")->capture_default_str();
  cmd->add_option("--sample", args->sample, "Rows judged against the float64 oracle")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  add_run_options(*cmd, args->run);
  cmd->callback([args] { run_demo(*args); });
}

}  // namespace moerouter::cli
