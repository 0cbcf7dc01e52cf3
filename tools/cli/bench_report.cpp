#include "cli/bench_report.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

namespace moerouter::cli {

namespace {

// Enough digits to compare runs, not the 17 a double has. Dividing by a power of ten (rather than
// multiplying by 1) gives the double nearest the decimal, which prints short.
double round_to(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}
double us(double v) { return round_to(v, v < 100 ? 3 : 1); }

}  // namespace

std::string to_json_line(const BenchRow& r) {
  nlohmann::json j;
  j["device"] = r.device;
  j["device_name"] = r.device_name;
  j["preset"] = r.preset;
  j["gemm"] = to_string(r.gemm);
  j["n"] = r.n;
  j["hidden"] = r.hidden;
  j["experts"] = r.experts;
  j["top_k"] = r.top_k;
  j["threads"] = r.threads ? nlohmann::json(*r.threads) : nlohmann::json(nullptr);
  j["x_dtype"] = r.x_dtype;
  j["us_median"] = us(r.us_median);
  j["us_p10"] = us(r.us_p10);
  j["us_p90"] = us(r.us_p90);
  j["reps"] = r.reps;
  j["flops"] = r.flops;
  j["bytes"] = r.bytes;
  j["gflops"] = round_to(r.gflops(), 2);
  // null, not 0, when there is no ceiling: a consumer must not divide by it.
  j["floor_us"] = r.floor_us > 0 ? nlohmann::json(us(r.floor_us)) : nlohmann::json(nullptr);
  j["ratio_to_floor"] = r.floor_us > 0 ? nlohmann::json(round_to(r.ratio_to_floor(), 3)) : nlohmann::json(nullptr);
  j["floor_bound"] = r.floor_bound;
  j["kernel"] = r.kernel;
  if (r.peak_gflops) {
    j["peak_gflops"] = round_to(*r.peak_gflops, 1);
    j["peak_isa"] = r.peak_isa;
    j["peak_fraction"] = *r.peak_gflops > 0 ? nlohmann::json(round_to(r.gflops() / *r.peak_gflops, 3))
                                            : nlohmann::json(nullptr);
  }
  if (r.bw_gbs) j["bw_gbs"] = round_to(*r.bw_gbs, 1);
  if (r.sgemm_tflops) j["sgemm_tflops"] = round_to(*r.sgemm_tflops, 2);
  if (r.bf16_tflops) j["bf16_tflops"] = round_to(*r.bf16_tflops, 1);
  if (r.graph_launch_us) j["graph_launch_us"] = us(*r.graph_launch_us);
  if (r.gemm_alone_us && *r.gemm_alone_us > 0) {
    j["gemm_alone_us"] = us(*r.gemm_alone_us);
    j["ratio_to_gemm_alone"] = round_to(r.us_median / *r.gemm_alone_us, 3);
  }
  if (r.graph) j["graph"] = *r.graph;
  if (r.input_buffers) j["input_buffers"] = *r.input_buffers;
  return j.dump();
}

void BenchOutput::device_header(const std::string& text) {
  if (json_) return;
  std::printf("%s%s\n", rows_.empty() ? "" : "\n", text.c_str());
  std::fflush(stdout);
  need_columns_ = true;
}

void BenchOutput::add(const BenchRow& r) {
  rows_.push_back(r);
  if (json_) {
    std::printf("%s\n", to_json_line(r).c_str());
  } else {
    if (need_columns_) {
      std::printf("%-12s %-9s %6s %3s %11s %23s %9s %11s %8s %8s  %s\n", "preset", "gemm", "N", "thr",
                  "median us", "p10 .. p90 us", "GFLOP/s", "floor us", "x floor", "x cuBLAS", "kernel");
      need_columns_ = false;
    }
    char p10_p90[64];
    std::snprintf(p10_p90, sizeof p10_p90, "%.1f .. %.1f", r.us_p10, r.us_p90);
    char floor[32] = "-", ratio[32] = "-";
    if (r.floor_us > 0) {
      std::snprintf(floor, sizeof floor, "%.1f", r.floor_us);
      std::snprintf(ratio, sizeof ratio, "%.2f", r.ratio_to_floor());
    }
    char alone[32] = "-";  // ratio to cuBLAS alone on the same shape (CUDA rows)
    if (r.gemm_alone_us && *r.gemm_alone_us > 0)
      std::snprintf(alone, sizeof alone, "%.2f", r.us_median / *r.gemm_alone_us);
    const std::string thr = r.threads ? std::to_string(*r.threads) : "-";
    const std::string kernel = r.kernel + (r.graph && *r.graph ? " (graph)" : "");
    std::printf("%-12s %-9s %6lld %3s %11.1f %23s %9.1f %11s %8s %8s  %s\n", r.preset.c_str(),
                to_string(r.gemm), static_cast<long long>(r.n), thr.c_str(), r.us_median, p10_p90,
                r.gflops(), floor, ratio, alone, kernel.c_str());
  }
  std::fflush(stdout);
}

}  // namespace moerouter::cli
