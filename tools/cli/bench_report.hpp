// `moerouter bench`: what is measured (BenchPlan), one measured row (BenchRow), and how rows are
// shown (a readable table, or one JSON object per line with --json).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "moerouter/config.hpp"

namespace moerouter::cli {

// Everything validated before the first measurement, so a typo fails at once, not minutes in.
struct BenchPlan {
  std::vector<std::pair<std::string, RouterConfig>> presets;  // name, config
  std::vector<int64_t> ns;
  std::vector<GemmMode> modes;
  std::vector<int> threads;  // CPU only; 0 = OpenMP's default
  double min_time_s = 0.5;
  uint64_t seed = 1;
};

struct BenchRow {
  std::string device, device_name;  // "cpu" | "cuda"; the CPU model or GPU name
  std::string preset;
  GemmMode gemm = GemmMode::Canonical;
  int64_t n = 0, hidden = 0, experts = 0;
  int top_k = 0;
  std::optional<int> threads;  // CPU: the thread count route() ran with
  double us_median = 0, us_p10 = 0, us_p90 = 0;
  int64_t reps = 0;
  std::string x_dtype = "bf16";  // how x was given (CUDA fp32 mode: float32, its natural input)
  double flops = 0, bytes = 0;  // 2·N·H·E; x (as given) + W (bf16) + outputs (weights f32, ids i32)
  double floor_us = 0;          // 0: no ceiling could be measured
  std::string floor_bound;      // "fma" (CPU), "bytes" or "flops" (CUDA: which term is larger)
  std::string kernel;
  // CPU ceiling
  std::optional<double> peak_gflops;
  std::string peak_isa;
  // CUDA ceilings and method
  std::optional<double> bw_gbs, sgemm_tflops, bf16_tflops;
  // A graph replay of an empty kernel timed as graph-replayed rows are: what no such row beats, µs.
  std::optional<double> graph_launch_us;
  // cuBLAS alone on this row's GEMM shape (SGEMM for canonical/fp32, BF16 GemmEx for bf16), µs.
  std::optional<double> gemm_alone_us;
  std::optional<bool> graph;
  std::optional<int> input_buffers;

  double gflops() const { return us_median > 0 ? flops / us_median / 1e3 : 0; }
  double ratio_to_floor() const { return floor_us > 0 ? us_median / floor_us : 0; }
};

inline double route_flops(const RouterConfig& c, int64_t n) {
  return 2.0 * static_cast<double>(n) * static_cast<double>(c.hidden) * static_cast<double>(c.experts);
}
// x as given (x_bytes per element: 2 for bf16, 4 for float32), W in bf16, weights f32 + ids i32 out.
inline double route_bytes(const RouterConfig& c, int64_t n, int x_bytes = 2) {
  const double H = static_cast<double>(c.hidden), E = static_cast<double>(c.experts);
  return static_cast<double>(n) * H * x_bytes + E * H * 2 + static_cast<double>(n) * c.top_k * 8;
}

// Prints rows as they are measured (flushing each, so long runs show progress) and keeps them.
class BenchOutput {
 public:
  explicit BenchOutput(bool json) : json_(json) {}
  // A device's ceilings, printed above its rows in table mode (JSON rows carry them instead).
  void device_header(const std::string& text);
  void add(const BenchRow& row);
  const std::vector<BenchRow>& rows() const { return rows_; }

 private:
  bool json_;
  bool need_columns_ = true;
  std::vector<BenchRow> rows_;
};

// One JSON object (no newline), the format of `--json` and of the --plot input.
std::string to_json_line(const BenchRow& row);

}  // namespace moerouter::cli
