#include "moerouter/reference/ranking.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace moerouter::reference {

bool ranks_above(double va, int64_t ia, double vb, int64_t ib) {
  const bool na = std::isnan(va), nb = std::isnan(vb);
  if (na != nb) return nb;
  if (!na && va != vb) return va > vb;
  return ia < ib;
}

void sort_ranked(std::vector<int32_t>& ids, const std::vector<double>& values) {
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    return ranks_above(values[static_cast<size_t>(a)], a, values[static_cast<size_t>(b)], b);
  });
}

std::vector<int32_t> top_ranked(const std::vector<double>& values, std::vector<int32_t> candidates,
                                int64_t count) {
  sort_ranked(candidates, values);
  if (static_cast<int64_t>(candidates.size()) > count) candidates.resize(static_cast<size_t>(count));
  return candidates;
}

double order_gap(double a, double b) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb) return na && nb ? 0.0 : std::numeric_limits<double>::infinity();
  if (a == b) return 0.0;  // also inf == inf, where a - b would be NaN
  return std::fabs(a - b);
}

}  // namespace moerouter::reference
