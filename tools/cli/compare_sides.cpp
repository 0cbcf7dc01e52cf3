#include "cli/compare_sides.hpp"

#include <chrono>
#include <cstdint>

#include "io/npy.hpp"
#include "moerouter/error.hpp"
#include "moerouter/router.hpp"

namespace moerouter::cli {

std::string Side::label() const {
  if (oracle) return "oracle";
  if (file()) return "file:" + weights_file + "," + ids_file;
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
  if (spec.rfind("file:", 0) == 0) {
    const std::string files = spec.substr(5);
    const size_t comma = files.find(',');
    if (comma == std::string::npos || comma == 0 || comma + 1 == files.size() ||
        files.find(',', comma + 1) != std::string::npos)
      fail(ErrorCode::InvalidArgument, option, ": expected file:WEIGHTS.npy,IDS.npy, got '", spec, "'");
    s.weights_file = files.substr(0, comma);
    s.ids_file = files.substr(comma + 1);
    return s;
  }
  const size_t colon = spec.find(':');
  try {
    s.device = parse_device(spec.substr(0, colon));
    if (colon != std::string::npos) s.gemm = parse_gemm_mode(spec.substr(colon + 1));
  } catch (const Error& e) {
    fail(ErrorCode::InvalidArgument, option, ": expected oracle, file:WEIGHTS.npy,IDS.npy or DEVICE[:MODE] (DEVICE auto, cpu or ",
         "cuda; MODE canonical, fp32 or bf16), got '", spec, "' (", e.what(), ")");
  }
  return s;
}

namespace {

SideOutput read_files(const Side& side, int64_t n, int64_t k) {
  using io::NpyDType;
  const io::NpyArray w = io::read_npy(side.weights_file, {"file side weights", {NpyDType::F32}, {n, k}});
  const io::NpyArray i = io::read_npy(side.ids_file, {"file side ids", {NpyDType::I32, NpyDType::I64}, {n, k}});
  SideOutput out;
  out.backend = "file";
  out.kernel = "-";
  out.weights.assign(w.as<float>(), w.as<float>() + n * k);
  out.ids.resize(static_cast<size_t>(n * k));
  for (size_t j = 0; j < out.ids.size(); ++j) {
    const int64_t id = i.dtype == NpyDType::I64 ? i.as<int64_t>()[j] : i.as<int32_t>()[j];
    // Out-of-range ids become -1, which the judge reports as a mismatch (never a valid expert).
    out.ids[j] = id < 0 || id > INT32_MAX ? -1 : static_cast<int32_t>(id);
  }
  return out;
}

}  // namespace

SideOutput run_backend(const Side& side, RouterConfig cfg, const RouterInputs& in) {
  cfg.gemm = side.gemm;
  const int64_t n = in.x->shape[0], k = cfg.top_k, E = cfg.experts;
  if (side.file()) return read_files(side, n, k);
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
