// The file `moerouter compare` writes when the two sides differ: for the first differing rows,
// the input row, both sides' ids, weights (values and bit patterns) and logits, and what the
// oracle judged — enough to reproduce and debug one row without rerunning the batch.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "moerouter/tensor.hpp"

namespace moerouter::cli {

struct DumpSide {
  std::string label;
  std::vector<int32_t> ids;
  std::vector<float> weights, logits;  // logits empty when the side has none
  std::string judgement;               // the judge's explanation against the oracle, or empty
};

struct DumpRow {
  int64_t row = -1;
  std::vector<float> x;  // the row of x, exactly (bfloat16 widened)
  std::optional<int64_t> token_id;
  DumpSide a, b;
};

// Row `row` of a [N, H] F32 or BF16 host view as floats.
std::vector<float> float_row(const TensorView& x, int64_t row);
// Token id `row` of an I32 or I64 view.
int64_t id_at(const TensorView& ids, int64_t row);

// JSON (non-finite floats as the strings "nan", "inf", "-inf"), written atomically.
void write_compare_dump(const std::string& path, const std::string& config, const std::string& inputs,
                        const std::vector<DumpRow>& rows);

}  // namespace moerouter::cli
