// libFuzzer target: router configs. The input is text, one `key=value` per line (see
// corpus/config/ and make_corpus.py):
//   RouterConfig fields, set directly:  hidden experts top_k groups topk_groups renormalize scale
//                                        score gemm (a name, or a number cast to the enum) preset
//   CLI options (build_config):          opt.preset opt.hidden opt.experts opt.top_k opt.groups
//                                        opt.topk_groups opt.score opt.scale opt.no_renormalize
//   a config.json hint for build_config: json=<the rest of the input, newlines included>
//   how to run an accepted config:      rows (0..4) seed x (f32|bf16) w (f32|bf16) bias (0|1)
//                                        run_gemm device hash (0|1|2: 2 = out-of-range ids)
//                                        layout (0|1)
// Unknown keys and unparsable numbers are ignored.
//
// validate() (and build_config, preset, parse_score_fn, parse_gemm_mode, parse_hf_config) must
// accept or throw moerouter::Error, and must agree with the documented rules, restated here. An
// accepted config with H * E small enough is routed on the CPU backend: ids distinct (without
// hash routing) and in [0, E), the dispatch layout consistent with them.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "moerouter/config.hpp"
#include "moerouter/error.hpp"
#include "moerouter/registry.hpp"
#include "moerouter/router.hpp"
#ifdef MOEROUTER_FUZZ_HAVE_CLI_OPTIONS
#include "cli/config_options.hpp"
#endif
#ifdef MOEROUTER_HAVE_SAFETENSORS
#include "io/hf_config.hpp"
#endif

using namespace moerouter;
using moerouter::fuzz::expect_error_or_success;
using moerouter::fuzz::must_succeed;

namespace {

// Routed only when the weights stay small (each input is one libFuzzer execution).
constexpr int64_t kMaxRoutedWeights = 16384;  // H * E

struct Input {
  std::map<std::string, std::string> kv;
  std::optional<std::string> json;
  bool has(const std::string& k) const { return kv.count(k) > 0; }
  std::optional<std::string> str(const std::string& k) const {
    const auto it = kv.find(k);
    return it == kv.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  // Decimal int64, saturating: "99999999999999999999" is INT64_MAX. nullopt when not a number.
  std::optional<int64_t> int64(const std::string& k) const {
    const auto s = str(k);
    if (!s || s->empty()) return std::nullopt;
    size_t i = 0;
    bool neg = false;
    if ((*s)[0] == '-' || (*s)[0] == '+') neg = (*s)[i++] == '-';
    if (i == s->size()) return std::nullopt;
    uint64_t v = 0;
    bool sat = false;
    for (; i < s->size(); ++i) {
      const char c = (*s)[i];
      if (c < '0' || c > '9') return std::nullopt;
      if (v > (std::numeric_limits<uint64_t>::max() - 9) / 10) sat = true;
      else v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    const uint64_t lim = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
    if (sat || v > lim) v = lim;
    return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  }
  // An int field gets the int64's low 32 bits, as a caller's narrowing cast would.
  std::optional<int> int32(const std::string& k) const {
    const auto v = int64(k);
    return v ? std::optional<int>(static_cast<int>(static_cast<uint32_t>(*v))) : std::nullopt;
  }
  std::optional<float> real(const std::string& k) const {
    const auto s = str(k);
    if (!s || s->empty()) return std::nullopt;
    char* end = nullptr;
    const float f = std::strtof(s->c_str(), &end);
    if (end != s->c_str() + s->size()) return std::nullopt;
    return f;
  }
};

Input parse_input(const uint8_t* data, size_t size) {
  Input in;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t at = 0;
  while (at < text.size()) {
    if (text.compare(at, 5, "json=") == 0) {
      in.json = std::string(text.substr(at + 5));
      break;
    }
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    const size_t eq = line.find('=');
    if (eq != std::string_view::npos)
      in.kv[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    at = end + 1;
  }
  return in;
}

// The rules config.hpp documents, restated independently of validate().
bool documented_valid(const RouterConfig& c) {
  if (c.hidden < 1) return false;
  if (c.experts < 1 || c.experts > kMaxExperts) return false;
  if (c.top_k < 1 || c.top_k > std::min<int64_t>(c.experts, kMaxTopK)) return false;
  const int score = static_cast<int>(c.score), gemm = static_cast<int>(c.gemm);
  if (score < 0 || score > 2 || gemm < 0 || gemm > 2) return false;
  if (c.groups < 1 || c.groups > c.experts || c.experts % c.groups != 0) return false;
  if (c.groups > 1) {
    if (c.topk_groups < 1 || c.topk_groups > std::min(c.groups, kMaxTopK)) return false;
    if (static_cast<int64_t>(c.topk_groups) * (c.experts / c.groups) < c.top_k) return false;
  }
  return std::isfinite(c.scale);
}

// 0..3: the enums' value range (two bits), so 3 is a representable but invalid value.
template <class Enum>
std::optional<Enum> enum_field(const Input& in, const std::string& key, Enum (*parse)(std::string_view),
                               bool* rejected) {
  const auto s = in.str(key);
  if (!s) return std::nullopt;
  if (const auto v = in.int64(key)) return static_cast<Enum>(*v & 3);
  std::optional<Enum> e;
  if (!expect_error_or_success("parse enum", [&] { e = parse(*s); })) *rejected = true;
  return e;
}

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float uniform(uint64_t& s, float lo, float hi) {
  return lo + (hi - lo) * static_cast<float>((splitmix(s) >> 40) * 0x1.0p-24);
}

// Values a router must survive: ordinary ones, zeros, huge ones, NaN and infinities.
float logit_value(uint64_t& s) {
  const uint64_t r = splitmix(s) % 16;
  switch (r) {
    case 0: return 0.f;
    case 1: return std::numeric_limits<float>::quiet_NaN();
    case 2: return std::numeric_limits<float>::infinity();
    case 3: return -std::numeric_limits<float>::infinity();
    case 4: return 3e38f;
    case 5: return -3e38f;
    case 6: return 1e-40f;
    default: return uniform(s, -4.f, 4.f);
  }
}

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = float_to_bf16(v[i]);
  return b;
}

void route_once(const RouterConfig& cfg, const Input& in) {
  (void)describe(cfg);
  std::unique_ptr<Router> router;
  must_succeed("make_router", [&] { router = make_router(cfg, Device::Cpu); });
  MOEROUTER_FUZZ_CHECK(router->config().experts == cfg.experts && router->config().top_k == cfg.top_k,
                       describe(router->config()));
  if (cfg.hidden > kMaxRoutedWeights / cfg.experts) return;

  const int64_t H = cfg.hidden, E = cfg.experts;
  const int k = cfg.top_k;
  const int64_t N = std::clamp<int64_t>(in.int64("rows").value_or(2), 0, 4);
  uint64_t seed = static_cast<uint64_t>(in.int64("seed").value_or(1));
  const bool special = in.int64("special").value_or(0) != 0;  // NaN/inf/huge values in x and W

  std::vector<float> w(static_cast<size_t>(E * H)), x(static_cast<size_t>(N * H)), bias;
  for (float& v : w) v = special ? logit_value(seed) : uniform(seed, -1.f, 1.f);
  for (float& v : x) v = special ? logit_value(seed) : uniform(seed, -1.f, 1.f);
  const std::vector<uint16_t> w16 = to_bf16(w), x16 = to_bf16(x);
  const bool w_bf16 = in.str("w") == std::optional<std::string>("bf16");
  const bool x_bf16 = in.str("x") == std::optional<std::string>("bf16");
  std::optional<TensorView> bias_view;
  if (in.int64("bias").value_or(0) != 0) {
    bias.resize(static_cast<size_t>(E));
    for (float& v : bias) v = special ? logit_value(seed) : uniform(seed, -0.5f, 0.5f);
    bias_view = TensorView::vector(bias.data(), E);
  }
  const TensorView wv = w_bf16 ? TensorView::matrix(const_cast<uint16_t*>(w16.data()), DType::BF16, E, H)
                               : TensorView::matrix(w.data(), E, H);
  // set_weights may reject non-finite weights or bias: that must be an Error, nothing else.
  if (!expect_error_or_success("set_weights", [&] { router->set_weights(wv, bias_view); })) return;

  RouteOptions opts;
  opts.threads = 1;
  bool rejected = false;
  if (const auto g = enum_field<GemmMode>(in, "run_gemm", &parse_gemm_mode, &rejected)) opts.gemm = g;
  if (rejected) return;
  if (const auto d = in.str("device")) {
    if (!expect_error_or_success("parse_device", [&] { (void)parse_device(*d); })) return;
  }
  if (opts.gemm && !router->supports(*opts.gemm)) return;

  // Hash routing: the ids are the table's rows (2: one entry out of range, an Error when a token
  // uses that row; accepted otherwise, and then every id is checked below anyway).
  const int64_t hash = in.int64("hash").value_or(0);
  const int64_t vocab = 3;
  std::vector<int32_t> table, token_ids;
  if (hash) {
    table.resize(static_cast<size_t>(vocab * k));
    for (auto& t : table) t = static_cast<int32_t>(splitmix(seed) % static_cast<uint64_t>(E));
    if (hash == 2 && !table.empty()) table[splitmix(seed) % table.size()] = static_cast<int32_t>(E);
    token_ids.resize(static_cast<size_t>(N));
    for (auto& t : token_ids) t = static_cast<int32_t>(splitmix(seed) % vocab);
    opts.token_ids = TensorView::vector(token_ids.data(), N);
    opts.hash_table = TensorView::matrix(table.data(), vocab, k);
  }
  // The dispatch layout: counts per expert, offsets, slots grouped by expert.
  std::vector<int64_t> counts, offsets;
  std::vector<int32_t> slots;
  const bool layout = in.int64("layout").value_or(0) != 0;
  if (layout) {
    counts.assign(static_cast<size_t>(E), -7);
    offsets.assign(static_cast<size_t>(E + 1), -7);
    slots.assign(static_cast<size_t>(N * k), -7);
    opts.counts_out = TensorView::vector(counts.data(), DType::I64, E);
    opts.expert_offsets_out = TensorView::vector(offsets.data(), DType::I64, E + 1);
    opts.token_slots_out = TensorView::vector(slots.data(), N * k);
  }
  opts.validate = in.int64("validate").value_or(0) != 0;

  std::vector<float> weights_out(static_cast<size_t>(N * k), -1234.f);
  std::vector<int32_t> ids(static_cast<size_t>(N * k), -7);
  const TensorView xv = x_bf16 ? TensorView::matrix(const_cast<uint16_t*>(x16.data()), DType::BF16, N, H)
                               : TensorView::matrix(x.data(), N, H);
  RouteStats stats;
  const bool routed = expect_error_or_success("route", [&] {
    stats = router->route(xv, TensorView::matrix(weights_out.data(), N, k),
                          TensorView::matrix(ids.data(), N, k), opts);
  });
  if (!routed) {
    // Nothing written on error.
    for (int32_t id : ids) MOEROUTER_FUZZ_CHECK(id == -7, "route failed but wrote ids");
    MOEROUTER_FUZZ_CHECK(hash == 2 || opts.validate, "route rejected valid arguments");
    return;
  }
  MOEROUTER_FUZZ_CHECK(stats.rows == N, std::to_string(stats.rows));
  for (int64_t r = 0; r < N; ++r) {
    std::set<int32_t> seen;
    for (int j = 0; j < k; ++j) {
      const int32_t id = ids[static_cast<size_t>(r * k + j)];
      MOEROUTER_FUZZ_CHECK(id >= 0 && id < E, "row " + std::to_string(r) + ": id " + std::to_string(id) +
                                                   " out of [0, " + std::to_string(E) + ") for " + describe(cfg));
      seen.insert(id);
      if (hash)
        MOEROUTER_FUZZ_CHECK(id == table[static_cast<size_t>(token_ids[static_cast<size_t>(r)] * k + j)],
                             "hash-routed id differs from the table");
    }
    if (!hash)
      MOEROUTER_FUZZ_CHECK(seen.size() == static_cast<size_t>(k),
                           "row " + std::to_string(r) + ": repeated ids for " + describe(cfg));
    if (!hash && cfg.group_limited()) {
      std::set<int64_t> groups;
      for (int32_t id : seen) groups.insert(id / cfg.experts_per_group());
      MOEROUTER_FUZZ_CHECK(groups.size() <= static_cast<size_t>(cfg.topk_groups),
                           "row " + std::to_string(r) + ": ids from more than topk_groups groups");
    }
  }
  if (layout) {
    std::vector<int64_t> expect(static_cast<size_t>(E), 0);
    for (int32_t id : ids) ++expect[static_cast<size_t>(id)];
    MOEROUTER_FUZZ_CHECK(counts == expect, "counts_out disagrees with ids_out");
    MOEROUTER_FUZZ_CHECK(offsets[0] == 0 && offsets[static_cast<size_t>(E)] == N * k, "expert_offsets_out ends");
    for (int64_t e = 0; e < E; ++e) {
      MOEROUTER_FUZZ_CHECK(offsets[static_cast<size_t>(e + 1)] - offsets[static_cast<size_t>(e)] ==
                               expect[static_cast<size_t>(e)],
                           "expert_offsets_out disagrees with counts");
      for (int64_t s = offsets[static_cast<size_t>(e)]; s < offsets[static_cast<size_t>(e + 1)]; ++s) {
        const int32_t slot = slots[static_cast<size_t>(s)];
        MOEROUTER_FUZZ_CHECK(slot >= 0 && slot < N * k && ids[static_cast<size_t>(slot)] == e,
                             "token_slots_out names a slot of another expert");
        MOEROUTER_FUZZ_CHECK(s == offsets[static_cast<size_t>(e)] || slots[static_cast<size_t>(s - 1)] < slot,
                             "token_slots_out not ascending within an expert");
      }
    }
  }
}

// The fields written directly, as a library caller would.
void direct(const Input& in) {
  RouterConfig cfg;
  if (const auto p = in.str("preset"))
    if (!expect_error_or_success("preset", [&] { cfg = preset(*p); })) return;
  if (const auto v = in.int64("hidden")) cfg.hidden = *v;
  if (const auto v = in.int64("experts")) cfg.experts = *v;
  if (const auto v = in.int32("top_k")) cfg.top_k = *v;
  if (const auto v = in.int32("groups")) cfg.groups = *v;
  if (const auto v = in.int32("topk_groups")) cfg.topk_groups = *v;
  if (const auto v = in.int64("renormalize")) cfg.renormalize = *v != 0;
  if (const auto v = in.real("scale")) cfg.scale = *v;
  bool rejected = false;
  if (const auto s = enum_field<ScoreFn>(in, "score", &parse_score_fn, &rejected)) cfg.score = *s;
  if (const auto g = enum_field<GemmMode>(in, "gemm", &parse_gemm_mode, &rejected)) cfg.gemm = *g;
  if (rejected) return;

  const bool accepted = expect_error_or_success("validate", [&] { validate(cfg); });
  MOEROUTER_FUZZ_CHECK(accepted == documented_valid(cfg),
                       std::string("validate ") + (accepted ? "accepted" : "rejected") + " H=" +
                           std::to_string(cfg.hidden) + " E=" + std::to_string(cfg.experts) + " k=" +
                           std::to_string(cfg.top_k) + " G=" + std::to_string(cfg.groups) + " topk_groups=" +
                           std::to_string(cfg.topk_groups) + " score=" + std::to_string(static_cast<int>(cfg.score)) +
                           " gemm=" + std::to_string(static_cast<int>(cfg.gemm)) + " scale=" + std::to_string(cfg.scale));
  if (accepted) route_once(cfg, in);
}

// The CLI's path: options (and a config.json hint) through build_config.
void options(const Input& in) {
#ifdef MOEROUTER_FUZZ_HAVE_CLI_OPTIONS
  bool any = in.json.has_value();
  for (const auto& [key, value] : in.kv) any = any || key.compare(0, 4, "opt.") == 0;
  if (!any) return;
  cli::ConfigOptions o;
  if (const auto s = in.str("opt.preset")) o.preset = *s;
  if (const auto v = in.int64("opt.hidden")) o.hidden = *v;
  if (const auto v = in.int64("opt.experts")) o.experts = *v;
  if (const auto v = in.int32("opt.top_k")) o.top_k = *v;
  if (const auto v = in.int32("opt.groups")) o.groups = *v;
  if (const auto v = in.int32("opt.topk_groups")) o.topk_groups = *v;
  if (const auto s = in.str("opt.score")) o.score = *s;
  if (const auto v = in.real("opt.scale")) o.scale = *v;
  o.no_renormalize = in.int64("opt.no_renormalize").value_or(0) != 0;

  std::optional<io::RouterConfigHint> hint;
#ifdef MOEROUTER_HAVE_SAFETENSORS
  if (in.json && !expect_error_or_success("parse_hf_config", [&] {
        hint = io::parse_hf_config(*in.json, "'config.json'");
        (void)hint->describe();
      }))
    return;
#endif
  RouterConfig cfg;
  if (!expect_error_or_success("build_config", [&] { cfg = cli::build_config(o, hint ? &*hint : nullptr); }))
    return;
  MOEROUTER_FUZZ_CHECK(documented_valid(cfg), "build_config returned an invalid config " + describe(cfg));
  // Precedence: explicit options, then the preset, then the hint (only without a preset).
  const auto from = [&](const auto& opt, const auto& hinted, auto actual, const char* field) {
    if (opt) MOEROUTER_FUZZ_CHECK(actual == *opt, std::string(field) + ": the option did not win");
    else if (!o.preset && hint && hinted)
      MOEROUTER_FUZZ_CHECK(actual == *hinted, std::string(field) + ": the config.json value was not used");
  };
  if (hint) {
    from(o.hidden, hint->hidden, cfg.hidden, "hidden");
    from(o.experts, hint->experts, cfg.experts, "experts");
    from(o.top_k, hint->top_k, cfg.top_k, "top_k");
    from(o.groups, hint->groups, cfg.groups, "groups");
  } else {
    const std::optional<int64_t> none64;
    const std::optional<int> none;
    from(o.hidden, none64, cfg.hidden, "hidden");
    from(o.experts, none64, cfg.experts, "experts");
    from(o.top_k, none, cfg.top_k, "top_k");
    from(o.groups, none, cfg.groups, "groups");
  }
  (void)cli::describe_math(cfg);
  route_once(cfg, in);
#else
  (void)in;
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Input in = parse_input(data, size);
  direct(in);
  options(in);
  return 0;
}
