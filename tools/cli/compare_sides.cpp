#include "cli/compare_sides.hpp"

#include <chrono>

#include "moerouter/error.hpp"
#include "moerouter/router.hpp"

namespace moerouter::cli {

std::string Side::label() const {
  if (oracle) return "oracle";
  std::string s = std::string(to_string(device)) + ":" + to_string(gemm);
  if (threads > 0) s += " (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)");
  return s;
}

Side parse_side(const std::string& spec, int threads, const std::string& option) {
  Side s;
  s.threads = threads;
  if (spec == "oracle") {
    s.oracle = true;
    return s;
  }
  const size_t colon = spec.find(':');
  try {
    s.device = parse_device(spec.substr(0, colon));
    if (colon != std::string::npos) s.gemm = parse_gemm_mode(spec.substr(colon + 1));
  } catch (const Error& e) {
    fail(ErrorCode::InvalidArgument, option, ": expected oracle or DEVICE[:MODE] (DEVICE auto, cpu or ",
         "cuda; MODE canonical, fp32 or bf16), got '", spec, "' (", e.what(), ")");
  }
  return s;
}

SideOutput run_backend(const Side& side, RouterConfig cfg, const RouterInputs& in) {
  cfg.gemm = side.gemm;
  const int64_t n = in.x->shape[0], k = cfg.top_k, E = cfg.experts;
  auto router = make_router(cfg, side.device);
  if (!router->supports(cfg.gemm))
    fail(ErrorCode::Unsupported, side.label(), ": backend '", router->backend_name(),
         "' does not run gemm mode ", to_string(cfg.gemm));
  router->set_weights(*in.weight, in.bias);

  SideOutput out;
  out.weights.resize(static_cast<size_t>(n * k));
  out.ids.resize(static_cast<size_t>(n * k));
  out.logits.resize(static_cast<size_t>(n * E));
  RouteOptions opt;
  opt.threads = side.threads;
  opt.logits_out = TensorView::matrix(out.logits.data(), DType::F32, n, E);
  opt.token_ids = in.token_ids;
  opt.hash_table = in.hash_table;
  const auto t0 = std::chrono::steady_clock::now();
  const RouteStats stats = router->route(*in.x, TensorView::matrix(out.weights.data(), n, k),
                                         TensorView::matrix(out.ids.data(), n, k), opt);
  out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out.backend = router->backend_name();
  out.kernel = stats.kernel;
  out.nonfinite_rows = stats.nonfinite_rows;
  return out;
}

}  // namespace moerouter::cli
