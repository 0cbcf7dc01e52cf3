#include "dispatch_layout.hpp"

#include <vector>

namespace moerouter::cpu {

namespace {
void store(const TensorView& t, int64_t i, int64_t v) {
  if (t.dtype == DType::I32) static_cast<int32_t*>(t.data)[i] = static_cast<int32_t>(v);
  else static_cast<int64_t*>(t.data)[i] = v;
}
}  // namespace

void write_dispatch_layout(const int32_t* ids, int64_t n, int k, int64_t experts, const RouteOptions& o) {
  if (!o.counts_out && !o.expert_offsets_out && !o.token_slots_out) return;
  const int64_t slots = n * k;
  std::vector<int64_t> counts(static_cast<size_t>(experts), 0);
  for (int64_t s = 0; s < slots; ++s) ++counts[ids[s]];
  if (o.counts_out)
    for (int64_t e = 0; e < experts; ++e) store(*o.counts_out, e, counts[e]);
  std::vector<int64_t> next(static_cast<size_t>(experts) + 1, 0);  // exclusive prefix sums
  for (int64_t e = 0; e < experts; ++e) next[e + 1] = next[e] + counts[e];
  if (o.expert_offsets_out)
    for (int64_t e = 0; e <= experts; ++e) store(*o.expert_offsets_out, e, next[e]);
  if (o.token_slots_out)
    for (int64_t s = 0; s < slots; ++s) store(*o.token_slots_out, next[ids[s]]++, s);
}

}  // namespace moerouter::cpu
