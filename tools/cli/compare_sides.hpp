// The two sides of `moerouter compare`: a backend in a GEMM mode ("cpu:canonical",
// "cuda:fp32", "auto:bf16"), the float64 oracle ("oracle"), or outputs computed elsewhere and
// saved as .npy ("file:WEIGHTS.npy,IDS.npy", e.g. another implementation's router).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cli/input_options.hpp"
#include "moerouter/config.hpp"
#include "moerouter/registry.hpp"

namespace moerouter::cli {

struct Side {
  bool oracle = false;
  Device device = Device::Auto;
  GemmMode gemm = GemmMode::Canonical;
  int threads = 0;  // CPU threads; 0 = OpenMP's default
  // A file side: precomputed weights [N,k] float32 and ids [N,k] int32/int64 (.npy). It has no
  // logits and no GEMM mode, so it is held to the near-tie contract, never to bit identity.
  std::string weights_file, ids_file;
  bool file() const { return !ids_file.empty(); }
  // "cpu:canonical", "cpu:canonical (2 threads)", "oracle", "file:W.npy,I.npy"
  std::string label() const;
  // The bit-identity promise of DESIGN.md §2 covers canonical mode on every backend.
  bool canonical_backend() const { return !oracle && !file() && gemm == GemmMode::Canonical; }
};

// "oracle", "file:WEIGHTS.npy,IDS.npy" or DEVICE[:MODE] (MODE defaults to canonical). `option`
// names the flag in errors.
Side parse_side(const std::string& spec, int threads, const std::string& option);

// What one side produced for the batch, row-major: weights and ids [n, k], logits [n, E]. The
// oracle side fills only the rows it was asked for (rounded to float, NaN canonical); a file side
// has no logits (empty).
struct SideOutput {
  std::vector<float> weights, logits;
  std::vector<int32_t> ids;
  std::string backend = "oracle", kernel;
  double ms = 0;
  int64_t nonfinite_rows = 0;
};

// Routes every row on the side's backend (a file side: reads its files, checked against [n, k]).
// Throws Unsupported when the backend cannot run the mode, BackendUnavailable when it was not
// built or has no device, IoError for a file side's unreadable or mis-shaped files.
SideOutput run_backend(const Side& side, RouterConfig cfg, const RouterInputs& in);

}  // namespace moerouter::cli
