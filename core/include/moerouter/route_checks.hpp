// Argument checks shared by every backend, run before anything is written.
#pragma once
#include <optional>

#include "moerouter/router.hpp"

namespace moerouter {

// W [E, H] F32/BF16 and bias [E] F32 on `device`; contiguous rows.
void check_weight_args(const RouterConfig& cfg, const TensorView& weight,
                       const std::optional<TensorView>& bias, DeviceType device);

// Shapes, dtypes, placement and layout of one route() call. x may have any row stride >= H with
// unit inner stride; outputs must be contiguous. Values (token ids, hash table entries) are
// checked separately because they may live in device memory.
void check_route_args(const RouterConfig& cfg, const TensorView& x, const TensorView& weights_out,
                      const TensorView& ids_out, const RouteOptions& options, DeviceType device);

// Host-side value checks for hash routing: each token id in [0, vocab) and each table entry that
// those tokens reach in [0, E). Throws InvalidArgument naming the first bad row.
void check_hash_values(const RouterConfig& cfg, const TensorView& token_ids,
                       const TensorView& hash_table);

// Reads element i of an I32/I64 vector or (row, col) of an I32/I64 matrix on the host.
int64_t read_index(const TensorView& t, int64_t i);
int64_t read_index(const TensorView& t, int64_t row, int64_t col);

}  // namespace moerouter
