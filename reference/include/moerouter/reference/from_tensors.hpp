// A reference::Problem from tensors someone else made (files, a checkpoint, a Python caller), so
// the float64 oracle can judge routing results on inputs the generator did not produce.
#pragma once
#include <optional>

#include "moerouter/config.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/tensor.hpp"

namespace moerouter::reference {

// x [N, H] and weight [E, H] F32 or BF16 (each its own dtype), bias [E] F32 or BF16, token_ids [N]
// and hash_table [vocab, k] I32 or I64 (both or neither). Host memory, any strides.
// The Problem holds exact F32 copies (BF16 widened) with dtype F32: its views route to the same
// bits in canonical and fp32 mode, but bf16 mode wants the original BF16 tensors.
// Throws Error (InvalidArgument, ShapeMismatch, DtypeMismatch, DeviceMismatch) naming the
// argument: wrong rank or extent, an unsupported dtype, device memory, token ids outside
// [0, vocab) or hash-table entries outside [0, E).
Problem problem_from_tensors(const RouterConfig& cfg, const TensorView& x, const TensorView& weight,
                             const std::optional<TensorView>& bias = std::nullopt,
                             const std::optional<TensorView>& token_ids = std::nullopt,
                             const std::optional<TensorView>& hash_table = std::nullopt);

}  // namespace moerouter::reference
