#include "cli/load_histogram.hpp"

#include <algorithm>
#include <cstdio>

namespace moerouter::cli {

namespace {

constexpr int64_t kMaxBars = 48;

std::string cell(int64_t first, int64_t last, double mean, double full_scale, int width) {
  const int filled = full_scale > 0 ? static_cast<int>(mean / full_scale * width + 0.5) : 0;
  char label[32];
  if (first == last) std::snprintf(label, sizeof label, "%7lld", static_cast<long long>(first));
  else std::snprintf(label, sizeof label, "%3lld-%-3lld", static_cast<long long>(first),
                     static_cast<long long>(last));
  char value[32];
  std::snprintf(value, sizeof value, "%6.0f", mean);
  return std::string(label) + " " + std::string(filled, '#') + std::string(width - filled, ' ') +
         value;
}

}  // namespace

std::string format_load_histogram(const std::vector<int64_t>& counts, int64_t tokens, int top_k) {
  const auto E = static_cast<int64_t>(counts.size());
  if (E == 0) return "";
  int64_t per = 1;
  while ((E + per - 1) / per > kMaxBars) per *= 2;
  const int64_t bars = (E + per - 1) / per;

  std::vector<double> mean(bars);
  for (int64_t b = 0; b < bars; ++b) {
    const int64_t lo = b * per, hi = std::min(E, lo + per);
    double sum = 0;
    for (int64_t e = lo; e < hi; ++e) sum += static_cast<double>(counts[e]);
    mean[b] = sum / static_cast<double>(hi - lo);
  }
  const double full = *std::max_element(mean.begin(), mean.end());
  const double uniform = static_cast<double>(tokens) * top_k / static_cast<double>(E);

  std::string out;
  char line[160];
  std::snprintf(line, sizeof line,
                "expert load: tokens per expert%s (uniform would be %.1f)\n",
                per > 1 ? (", mean over " + std::to_string(per) + " experts a bar").c_str() : "",
                uniform);
  out += line;
  const bool two_columns = bars > 16;
  const int width = two_columns ? 20 : 50;
  const int64_t rows = two_columns ? (bars + 1) / 2 : bars;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < (two_columns ? 2 : 1); ++c) {
      const int64_t b = r + c * rows;
      if (b >= bars) break;
      const int64_t lo = b * per, hi = std::min(E, lo + per) - 1;
      out += (c ? "    " : "  ") + cell(lo, hi, mean[b], full, width);
    }
    out += "\n";
  }
  const auto [mn, mx] = std::minmax_element(counts.begin(), counts.end());
  const auto idle = std::count(counts.begin(), counts.end(), int64_t{0});
  std::snprintf(line, sizeof line,
                "  per expert: min %lld, max %lld (expert %lld), max/uniform %.2f, idle experts %lld\n",
                static_cast<long long>(*mn), static_cast<long long>(*mx),
                static_cast<long long>(mx - counts.begin()),
                uniform > 0 ? static_cast<double>(*mx) / uniform : 0.0,
                static_cast<long long>(idle));
  out += line;
  return out;
}

}  // namespace moerouter::cli
