// Deterministic router inputs for tests, the CLI demo and benchmarks.
//
// generate() is a pure function of (cfg.hidden, cfg.experts, cfg.top_k, n, kind, seed, dtype,
// with_bias): the same arguments give the same bytes on every platform (rng.hpp says how). Every
// x row and W row comes from its own random stream, so the first m rows of a problem of n > m rows
// equal the problem of m rows, and W does not depend on n. A BF16 problem is the F32 problem with
// x and W rounded to bf16 (nearest even).
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "moerouter/config.hpp"
#include "moerouter/tensor.hpp"

namespace moerouter::reference {

enum class InputKind {
  // W ~ N(0, 1/H) so logits ~ N(0, 1); x ~ N(0, 1); bias ~ N(0, 0.1^2) (std 0.1, about the spread
  // of trained DeepSeek correction biases; larger would drown sigmoid scores).
  Random,
  // x integers in [-3, 3]; W integers in [-3, 3] times 2^-s, s = ceil(log2(4 sqrt(H))), so logits
  // have a spread of about 1 (plain integers would saturate every score function). Every product
  // and partial sum is a multiple of 2^-s below 2^24 * 2^-s in magnitude, hence exact in FP32: any
  // summation order, FMA or not, gives exactly the float64 logits. bias = integer in [-4, 4] / 8.
  // Needs 9 * H < 2^24.
  IntegerValued,
  // Built like IntegerValued (exact logits, so ties are exact on every backend), from a few
  // distinct rows: W has max(1, min(E, max(2, E/4))) distinct rows, each expert a copy of one;
  // x rows are copies of 4 pooled rows, one of them all zero; bias in {-1/8, 0, 1/8}.
  TieHeavy,
  // W as Random; x rows cycle through (row % 16): 0 one NaN, 1 one +inf, 2 one -inf,
  // 3 all subnormal, 4 all huge (N(0,1) * 1e30: finite but saturating logits), 5 all +-1e38
  // (FP32 logits overflow), 6 all equal, 7 all zero (with -0.0 at odd positions), 8 random with one
  // +-1e30 entry, 9..15 random.
  Adversarial,
};

const char* to_string(InputKind kind) noexcept;           // "random", "integer", "ties", "adversarial"
InputKind parse_input_kind(std::string_view name);        // throws Error(InvalidArgument)

struct Problem {
  RouterConfig cfg;
  int64_t n = 0;
  DType dtype = DType::F32;  // dtype of x and W as handed to a backend
  InputKind kind = InputKind::Random;
  uint64_t seed = 0;
  std::vector<float> x;                  // [n, H], exact values (bf16-representable when BF16)
  std::vector<float> w;                  // [E, H]
  std::vector<uint16_t> x_bf16, w_bf16;  // raw bf16 bits, filled when dtype == BF16
  std::vector<float> bias;               // [E] or empty
  std::vector<int32_t> token_ids;        // [n] or empty (hash routing)
  std::vector<int32_t> hash_table;       // [vocab, k] or empty
  int64_t vocab = 0;

  // Host views in `dtype` (x, W) or F32/I32 (the rest). The views point into this object.
  TensorView x_view() const;
  TensorView w_view() const;
  std::optional<TensorView> bias_view() const;
  std::optional<TensorView> token_ids_view() const;
  std::optional<TensorView> hash_table_view() const;

  bool hashed() const { return !token_ids.empty(); }
  // The k hash-table ids of a row, or nullptr without hash routing.
  const int32_t* hash_ids(int64_t row) const;
};

// Throws Error(InvalidArgument) for an invalid cfg, n < 0, a dtype other than F32/BF16, or (the
// exact kinds) 9 * H >= 2^24.
Problem generate(const RouterConfig& cfg, int64_t n, InputKind kind, uint64_t seed,
                 DType dtype = DType::F32, bool with_bias = true);

// Hash routing: token_ids[n] uniform in [0, vocab); hash_table [vocab, k] rows of k distinct ids
// in [0, E) (a partial Fisher-Yates shuffle). Also deterministic and row-prefix stable.
void add_hash_routing(Problem& p, int64_t vocab, uint64_t seed);

}  // namespace moerouter::reference
