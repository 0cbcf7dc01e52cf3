// `moerouter bench --plot OUT.png`: the rows drawn by tools/bench/plot_bench.py (matplotlib),
// which is embedded in the binary and run with the system's python3.
#pragma once
#include <string>
#include <vector>

#include "cli/bench_report.hpp"

namespace moerouter::cli {

// Checked before anything is measured: OUT's directory exists, and python3 can import matplotlib.
// Throws InvalidArgument / Unsupported naming what is missing.
void check_plot_ready(const std::string& out_png);
// Writes OUT (replaced atomically by the script) or throws with the script's one-line reason.
void write_plot(const std::vector<BenchRow>& rows, const std::string& out_png);

}  // namespace moerouter::cli
