#include "moerouter/reference/generate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "moerouter/error.hpp"
#include "moerouter/reference/rng.hpp"

namespace moerouter::reference {

namespace {

// Stream tags: one random stream per (purpose, row).
enum : uint64_t {
  kTagW = 1,
  kTagX = 2,
  kTagBias = 3,
  kTagWPool = 4,
  kTagXPool = 5,
  kTagToken = 6,
  kTagHashRow = 7,
};

// Shift s of the exact kinds: W = integer * 2^-s with 2^s >= 4 sqrt(H), i.e. 2^(2s) >= 16 H, so
// the logits (std 4 sqrt(H) 2^-s) have a spread of about 1.
int dyadic_shift(int64_t H) {
  int s = 0;
  while ((int64_t{1} << (2 * s)) < 16 * H) ++s;
  return s;
}

void check_exact_kind(const RouterConfig& cfg, InputKind kind) {
  // |partial sum| <= sum |x w| <= 9 H units of 2^-s: below 2^24 units keeps every sum exact.
  if (9 * cfg.hidden >= (int64_t{1} << 24))
    fail_arg(ErrorCode::InvalidArgument, std::string("generate(") + to_string(kind) + "): hidden",
             "9 * hidden < 2^24 (exact float sums)", cfg.hidden);
}

void fill_random_w(Problem& p) {
  const int64_t H = p.cfg.hidden;
  const double inv_std = std::sqrt(static_cast<double>(H));
  for (int64_t e = 0; e < p.cfg.experts; ++e) {
    SplitMix64 rng(stream_seed(p.seed, kTagW, static_cast<uint64_t>(e)));
    for (int64_t k = 0; k < H; ++k) p.w[e * H + k] = static_cast<float>(rng.normal() / inv_std);
  }
}

void fill_random_x_row(Problem& p, int64_t r, SplitMix64& rng) {
  const int64_t H = p.cfg.hidden;
  for (int64_t k = 0; k < H; ++k) p.x[r * H + k] = static_cast<float>(rng.normal());
}

void fill_random_bias(Problem& p) {
  SplitMix64 rng(stream_seed(p.seed, kTagBias, 0));
  for (auto& b : p.bias) b = static_cast<float>(0.1 * rng.normal());
}

void fill_small_ints(float* dst, int64_t len, SplitMix64& rng, int shift) {
  for (int64_t k = 0; k < len; ++k)
    dst[k] = std::ldexp(static_cast<float>(rng.below(7) - 3), -shift);
}

void generate_random(Problem& p) {
  fill_random_w(p);
  for (int64_t r = 0; r < p.n; ++r) {
    SplitMix64 rng(stream_seed(p.seed, kTagX, static_cast<uint64_t>(r)));
    fill_random_x_row(p, r, rng);
  }
  fill_random_bias(p);
}

void generate_integer(Problem& p) {
  check_exact_kind(p.cfg, p.kind);
  const int64_t H = p.cfg.hidden;
  const int s = dyadic_shift(H);
  for (int64_t e = 0; e < p.cfg.experts; ++e) {
    SplitMix64 rng(stream_seed(p.seed, kTagW, static_cast<uint64_t>(e)));
    fill_small_ints(&p.w[e * H], H, rng, s);
  }
  for (int64_t r = 0; r < p.n; ++r) {
    SplitMix64 rng(stream_seed(p.seed, kTagX, static_cast<uint64_t>(r)));
    fill_small_ints(&p.x[r * H], H, rng, 0);
  }
  SplitMix64 rng(stream_seed(p.seed, kTagBias, 0));
  for (auto& b : p.bias) b = static_cast<float>(rng.below(9) - 4) / 8.0f;
}

void generate_ties(Problem& p) {
  check_exact_kind(p.cfg, p.kind);
  const int64_t H = p.cfg.hidden, E = p.cfg.experts;
  const int s = dyadic_shift(H);
  // Distinct W rows: E/4 of them (at least 2 when E allows), so each appears ~4 times.
  const int64_t distinct = std::max<int64_t>(1, std::min<int64_t>(E, std::max<int64_t>(2, E / 4)));
  std::vector<float> pool(static_cast<size_t>(distinct * H));
  for (int64_t j = 0; j < distinct; ++j) {
    SplitMix64 rng(stream_seed(p.seed, kTagWPool, static_cast<uint64_t>(j)));
    fill_small_ints(&pool[j * H], H, rng, s);
  }
  for (int64_t e = 0; e < E; ++e) {
    SplitMix64 rng(stream_seed(p.seed, kTagW, static_cast<uint64_t>(e)));
    const int64_t j = rng.below(distinct);
    std::copy(&pool[j * H], &pool[j * H] + H, &p.w[e * H]);
  }
  // Four pooled x rows; pool row 0 is all zero (every logit 0: only bias and index decide).
  const int64_t kXPool = 4;
  std::vector<float> xpool(static_cast<size_t>(kXPool * H), 0.0f);
  for (int64_t j = 1; j < kXPool; ++j) {
    SplitMix64 rng(stream_seed(p.seed, kTagXPool, static_cast<uint64_t>(j)));
    fill_small_ints(&xpool[j * H], H, rng, 0);
  }
  for (int64_t r = 0; r < p.n; ++r) {
    SplitMix64 rng(stream_seed(p.seed, kTagX, static_cast<uint64_t>(r)));
    const int64_t j = rng.below(kXPool);
    std::copy(&xpool[j * H], &xpool[j * H] + H, &p.x[r * H]);
  }
  SplitMix64 rng(stream_seed(p.seed, kTagBias, 0));
  for (auto& b : p.bias) b = static_cast<float>(rng.below(3) - 1) / 8.0f;
}

void generate_adversarial(Problem& p) {
  const int64_t H = p.cfg.hidden;
  const float kNan = std::numeric_limits<float>::quiet_NaN();
  const float kInf = std::numeric_limits<float>::infinity();
  fill_random_w(p);
  for (int64_t r = 0; r < p.n; ++r) {
    SplitMix64 rng(stream_seed(p.seed, kTagX, static_cast<uint64_t>(r)));
    float* x = &p.x[r * H];
    const int64_t category = r % 16;
    switch (category) {
      case 0:
      case 1:
      case 2:
      case 8: {
        fill_random_x_row(p, r, rng);
        const int64_t j = rng.below(H);
        if (category == 0) x[j] = kNan;
        if (category == 1) x[j] = kInf;
        if (category == 2) x[j] = -kInf;
        if (category == 8) x[j] = rng.below(2) ? 1e30f : -1e30f;
        break;
      }
      case 3:  // subnormal: |x| around 2^-140, below the smallest normal 2^-126
        for (int64_t k = 0; k < H; ++k) x[k] = static_cast<float>(std::ldexp(rng.normal(), -140));
        break;
      case 4:
        for (int64_t k = 0; k < H; ++k) x[k] = static_cast<float>(rng.normal() * 1e30);
        break;
      case 5:  // 1e38 is still finite in bf16, unlike FLT_MAX
        for (int64_t k = 0; k < H; ++k) x[k] = rng.below(2) ? 1e38f : -1e38f;
        break;
      case 6: {
        const float c = static_cast<float>(rng.normal());
        for (int64_t k = 0; k < H; ++k) x[k] = c;
        break;
      }
      case 7:
        for (int64_t k = 0; k < H; ++k) x[k] = (k % 2) ? -0.0f : 0.0f;
        break;
      default:
        fill_random_x_row(p, r, rng);
        break;
    }
  }
  fill_random_bias(p);
}

// Rounds x and W to bf16 in place and keeps the bit patterns.
void round_to_bf16(std::vector<float>& values, std::vector<uint16_t>& bits) {
  bits.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    bits[i] = float_to_bf16(values[i]);
    values[i] = bf16_to_float(bits[i]);
  }
}

}  // namespace

const char* to_string(InputKind kind) noexcept {
  switch (kind) {
    case InputKind::Random: return "random";
    case InputKind::IntegerValued: return "integer";
    case InputKind::TieHeavy: return "ties";
    case InputKind::Adversarial: return "adversarial";
  }
  return "unknown";
}

InputKind parse_input_kind(std::string_view name) {
  for (InputKind k :
       {InputKind::Random, InputKind::IntegerValued, InputKind::TieHeavy, InputKind::Adversarial})
    if (name == to_string(k)) return k;
  fail_arg(ErrorCode::InvalidArgument, "input kind", "random, integer, ties or adversarial",
           "'" + std::string(name) + "'");
}

TensorView Problem::x_view() const {
  if (dtype == DType::BF16)
    return TensorView::matrix(const_cast<uint16_t*>(x_bf16.data()), DType::BF16, n, cfg.hidden);
  return TensorView::matrix(const_cast<float*>(x.data()), DType::F32, n, cfg.hidden);
}

TensorView Problem::w_view() const {
  if (dtype == DType::BF16)
    return TensorView::matrix(const_cast<uint16_t*>(w_bf16.data()), DType::BF16, cfg.experts,
                              cfg.hidden);
  return TensorView::matrix(const_cast<float*>(w.data()), DType::F32, cfg.experts, cfg.hidden);
}

std::optional<TensorView> Problem::bias_view() const {
  if (bias.empty()) return std::nullopt;
  return TensorView::vector(bias.data(), static_cast<int64_t>(bias.size()));
}

std::optional<TensorView> Problem::token_ids_view() const {
  if (token_ids.empty()) return std::nullopt;
  return TensorView::vector(token_ids.data(), static_cast<int64_t>(token_ids.size()));
}

std::optional<TensorView> Problem::hash_table_view() const {
  if (hash_table.empty()) return std::nullopt;
  return TensorView::matrix(hash_table.data(), vocab, cfg.top_k);
}

const int32_t* Problem::hash_ids(int64_t row) const {
  if (token_ids.empty()) return nullptr;
  return &hash_table[static_cast<size_t>(token_ids[static_cast<size_t>(row)]) * cfg.top_k];
}

Problem generate(const RouterConfig& cfg, int64_t n, InputKind kind, uint64_t seed, DType dtype,
                 bool with_bias) {
  validate(cfg);
  if (n < 0) fail_arg(ErrorCode::InvalidArgument, "generate: n", "n >= 0", n);
  if (dtype != DType::F32 && dtype != DType::BF16)
    fail_arg(ErrorCode::InvalidArgument, "generate: dtype", "float32 or bfloat16", to_string(dtype));
  Problem p;
  p.cfg = cfg;
  p.n = n;
  p.dtype = dtype;
  p.kind = kind;
  p.seed = seed;
  p.x.assign(static_cast<size_t>(n * cfg.hidden), 0.0f);
  p.w.assign(static_cast<size_t>(cfg.experts * cfg.hidden), 0.0f);
  // Bias is drawn even when not kept, from its own stream: it never shifts the other values.
  p.bias.assign(static_cast<size_t>(cfg.experts), 0.0f);
  switch (kind) {
    case InputKind::Random: generate_random(p); break;
    case InputKind::IntegerValued: generate_integer(p); break;
    case InputKind::TieHeavy: generate_ties(p); break;
    case InputKind::Adversarial: generate_adversarial(p); break;
  }
  if (!with_bias) p.bias.clear();
  if (dtype == DType::BF16) {
    round_to_bf16(p.x, p.x_bf16);
    round_to_bf16(p.w, p.w_bf16);
  }
  return p;
}

void add_hash_routing(Problem& p, int64_t vocab, uint64_t seed) {
  if (vocab < 1) fail_arg(ErrorCode::InvalidArgument, "add_hash_routing: vocab", "vocab >= 1", vocab);
  const int64_t E = p.cfg.experts, k = p.cfg.top_k;
  p.vocab = vocab;
  p.token_ids.resize(static_cast<size_t>(p.n));
  for (int64_t r = 0; r < p.n; ++r) {
    SplitMix64 rng(stream_seed(seed, kTagToken, static_cast<uint64_t>(r)));
    p.token_ids[static_cast<size_t>(r)] = static_cast<int32_t>(rng.below(vocab));
  }
  p.hash_table.resize(static_cast<size_t>(vocab * k));
  std::vector<int32_t> perm(static_cast<size_t>(E));
  for (int64_t v = 0; v < vocab; ++v) {
    SplitMix64 rng(stream_seed(seed, kTagHashRow, static_cast<uint64_t>(v)));
    for (int64_t e = 0; e < E; ++e) perm[static_cast<size_t>(e)] = static_cast<int32_t>(e);
    for (int64_t i = 0; i < k; ++i) {  // the first k steps of a Fisher-Yates shuffle
      const int64_t j = i + rng.below(E - i);
      std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
      p.hash_table[static_cast<size_t>(v * k + i)] = perm[static_cast<size_t>(i)];
    }
  }
}

}  // namespace moerouter::reference
