// `moerouter compare`: route the same inputs on two sides — two (backend, gemm mode) pairs, or one
// against the float64 oracle — and say whether the pair keeps its contract (DESIGN.md §2):
// canonical on both sides must be bit-identical (any backend, any thread count); any pair with
// fp32, bf16 or the oracle must have no id difference outside the near-tie band. Rows whose ids
// differ are judged against the oracle to tell the two apart. Exit status 1 when the contract is
// broken; the first differing rows go to a JSON dump either way.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/compare_dump.hpp"
#include "cli/compare_sides.hpp"
#include "cli/config_options.hpp"
#include "cli/input_options.hpp"
#include "cli/load_histogram.hpp"
#include "cli/parallel_rows.hpp"
#include "cli/progress_bar.hpp"
#include "moerouter/error.hpp"
#include "moerouter/reference/check.hpp"
#include "moerouter/reference/from_tensors.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/reference/judge.hpp"
#include "moerouter/reference/oracle.hpp"

namespace moerouter::cli {

namespace {

using reference::RowJudgement;
using reference::Verdict;

struct CompareArgs {
  ConfigOptions config;
  InputOptions inputs;
  std::string a = "auto:canonical", b = "oracle";
  int a_threads = 0, b_threads = 0;
  // Generated inputs (for whatever the files do not give).
  int64_t n = 256;
  std::string kind = "random";
  uint64_t seed = 1;
  std::string dtype = "f32";
  std::optional<int64_t> hash_vocab;
  int64_t sample = 0;
  std::string dump = "compare-dump.json";
  int64_t dump_rows = 8;
};

// Fills what the files did not give from reference::generate, and says where the inputs came from.
std::string complete_inputs(RouterInputs& in, const RouterConfig& cfg, const CompareArgs& a) {
  std::string source;
  if (in.x) source = "--x '" + *a.inputs.x + "'";
  if (in.weight) source += (source.empty() ? "" : ", ") + in.weight_source;
  const bool need_tokens = !in.token_ids && (a.hash_vocab || in.hash_table);
  if (in.x && in.weight && !need_tokens) return source;

  const int64_t n = in.x ? in.x->shape[0] : a.n;
  auto p = std::make_shared<reference::Problem>(reference::generate(
      cfg, n, reference::parse_input_kind(a.kind), a.seed, a.dtype == "bf16" ? DType::BF16 : DType::F32,
      /*with_bias=*/!in.weight && !in.bias));
  std::string generated;
  if (!in.x) {
    in.x = p->x_view();
    generated = "x";
  }
  if (!in.weight) {
    in.weight = p->w_view();
    if (!in.bias) in.bias = p->bias_view();
    generated += generated.empty() ? "weight, bias" : ", weight, bias";
  }
  if (need_tokens) {
    // A checkpoint's hash layer brings its table: only the token ids are drawn, from its vocab.
    const int64_t vocab = in.hash_table ? in.hash_table->shape[0] : *a.hash_vocab;
    reference::add_hash_routing(*p, vocab, a.seed);
    in.token_ids = p->token_ids_view();
    if (!in.hash_table) in.hash_table = p->hash_table_view();
    generated += generated.empty() ? "token ids" : ", token ids";
  }
  in.storage.push_back(p);
  return source + (source.empty() ? "" : "; ") + "generated " + generated + " (" + a.kind + ", " +
         a.dtype + ", seed " + std::to_string(a.seed) + ")";
}

// bf16 mode rounds float32 inputs to bfloat16 before its GEMM, so judged against an oracle fed
// the float32 values it would be blamed for the rounding. With a bf16 side, x and weight are
// rounded up front for both sides and the oracle alike. Returns whether anything was rounded.
bool round_inputs_to_bf16(RouterInputs& in) {
  bool rounded = false;
  for (std::optional<TensorView>* v : {&in.x, &in.weight}) {
    if ((*v)->dtype != DType::F32) continue;
    const TensorView& f = **v;  // contiguous: from a .npy file, a checkpoint or the generator
    auto bits = std::make_shared<std::vector<uint16_t>>(static_cast<size_t>(f.numel()));
    for (size_t i = 0; i < bits->size(); ++i) (*bits)[i] = float_to_bf16(f.ptr<float>()[i]);
    *v = TensorView::matrix(bits->data(), DType::BF16, f.shape[0], f.shape[1]);
    in.storage.push_back(bits);
    rounded = true;
  }
  return rounded;
}

// The oracle side has no run of its own: its rows are filled while judging.
SideOutput oracle_placeholder(int64_t n, int64_t k, int64_t E) {
  SideOutput o;
  o.weights.assign(static_cast<size_t>(n * k), 0.0f);
  o.ids.assign(static_cast<size_t>(n * k), -1);
  o.logits.assign(static_cast<size_t>(n * E), 0.0f);
  return o;
}

void fill_from_oracle(SideOutput& out, const reference::OracleRow& o, int64_t row, int64_t k, int64_t E) {
  for (int64_t i = 0; i < k; ++i) {
    out.ids[static_cast<size_t>(row * k + i)] = o.ids[static_cast<size_t>(i)];
    out.weights[static_cast<size_t>(row * k + i)] = reference::round_to_f32(o.weights[static_cast<size_t>(i)]);
  }
  for (int64_t e = 0; e < E; ++e)
    out.logits[static_cast<size_t>(row * E + e)] = reference::round_to_f32(o.logits[static_cast<size_t>(e)]);
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b, int64_t row, int64_t width) {
  return std::memcmp(a.data() + row * width, b.data() + row * width, static_cast<size_t>(width) * sizeof(T)) == 0;
}

struct Verdicts {
  int64_t exact = 0, near_tie = 0, mismatch = 0;
  std::string first_mismatch;
  void add(const RowJudgement& j) {
    if (j.ids == Verdict::Exact) ++exact;
    if (j.ids == Verdict::NearTie) ++near_tie;
    if (j.ids == Verdict::Mismatch && mismatch++ == 0) first_mismatch = j.explain;
  }
  std::string text() const {
    return std::to_string(exact) + " exact, " + std::to_string(near_tie) + " near-tie, " +
           std::to_string(mismatch) + " mismatch";
  }
};

std::vector<int64_t> counts_of(const std::vector<int32_t>& ids, int64_t E) {
  std::vector<int64_t> c(static_cast<size_t>(E), 0);
  for (int32_t id : ids)
    if (id >= 0 && id < E) ++c[static_cast<size_t>(id)];
  return c;
}

// Everything one comparison holds: both sides' outputs, which rows were compared and judged,
// and the oracle's judgement of each backend side on the judged rows.
struct Comparison {
  const RouterConfig& cfg;
  const RouterInputs& in;
  const Side* side[2];
  SideOutput out[2];
  int64_t n, k, E;
  std::vector<int64_t> compared, judged;  // row indices, ascending
  std::vector<RowJudgement> judgement[2];  // [side][index into judged]; empty for an oracle side

  bool with_oracle() const { return side[0]->oracle || side[1]->oracle; }
  // The bit-identity promise of DESIGN.md §2: canonical mode on both sides.
  bool bit_contract() const { return side[0]->canonical_backend() && side[1]->canonical_backend(); }
  int64_t judged_index(int64_t row) const {
    const auto it = std::lower_bound(judged.begin(), judged.end(), row);
    return it != judged.end() && *it == row ? it - judged.begin() : -1;
  }
};

// Which rows to compare and which to judge. The oracle is slow: against it, only the sample;
// between backends every row is compared, and the rows whose ids differ (plus the sample) are
// judged, so a near tie can be told from a bug.
void choose_rows(Comparison& c, int64_t sample) {
  if (c.with_oracle()) {
    c.compared = c.judged = reference::sample_rows(c.n, sample);
    return;
  }
  c.compared = reference::sample_rows(c.n, 0);
  for (int64_t r = 0; r < c.n; ++r)
    if (!same_bits(c.out[0].ids, c.out[1].ids, r, c.k)) c.judged.push_back(r);
  if (sample > 0) {
    const auto s = reference::sample_rows(c.n, sample);
    c.judged.insert(c.judged.end(), s.begin(), s.end());
    std::sort(c.judged.begin(), c.judged.end());
    c.judged.erase(std::unique(c.judged.begin(), c.judged.end()), c.judged.end());
  }
}

// One float64 oracle row per judged row, on every core: fills an oracle side's outputs and judges
// each backend side.
void judge_rows(Comparison& c) {
  if (c.judged.empty()) return;
  const reference::Problem p =
      reference::problem_from_tensors(c.cfg, *c.in.x, *c.in.weight, c.in.bias, c.in.token_ids, c.in.hash_table);
  for (auto& j : c.judgement) j.resize(c.judged.size());
  ProgressBar bar("float64 oracle", static_cast<int64_t>(c.judged.size()));
  std::atomic<int64_t> done{0};
  parallel_rows(static_cast<int64_t>(c.judged.size()), [&](int64_t i) {
    const int64_t row = c.judged[static_cast<size_t>(i)];
    const reference::OracleRow o = reference::route_row(p, row);
    for (int s = 0; s < 2; ++s) {
      SideOutput& out = c.out[s];
      if (c.side[s]->oracle) fill_from_oracle(out, o, row, c.k, c.E);
      else c.judgement[s][static_cast<size_t>(i)] = reference::judge_row(
               c.cfg, o, &out.ids[static_cast<size_t>(row * c.k)], &out.weights[static_cast<size_t>(row * c.k)]);
    }
    bar.update(++done);
  });
}

struct Tally {
  int64_t rows = 0, bit_equal = 0, logits_equal = 0, ids_equal = 0, inside = 0, outside = 0;
  int64_t max_weight_ulp = 0;   // over rows with equal ids
  int64_t first_unequal = -1;   // first row with any bit different
  std::vector<int64_t> differing;  // rows for the dump: ids differ, or any bit under the bit contract
  Verdicts verdicts[2];
};

Tally tally(const Comparison& c) {
  Tally t;
  const SideOutput(&out)[2] = c.out;
  for (int64_t row : c.compared) {
    ++t.rows;
    const bool ids_same = same_bits(out[0].ids, out[1].ids, row, c.k);
    const bool w_same = same_bits(out[0].weights, out[1].weights, row, c.k);
    // A file side has no logits: they are not compared.
    const bool l_same = out[0].logits.empty() || out[1].logits.empty() ||
                        same_bits(out[0].logits, out[1].logits, row, c.E);
    t.bit_equal += ids_same && w_same;
    t.logits_equal += l_same;
    if (ids_same) {
      ++t.ids_equal;
      for (int64_t i = row * c.k; i < (row + 1) * c.k; ++i)
        t.max_weight_ulp = std::max(t.max_weight_ulp, reference::ulp_distance(out[0].weights[static_cast<size_t>(i)],
                                                                              out[1].weights[static_cast<size_t>(i)]));
    } else {
      // Differing ids are always judged (choose_rows): outside the band if either side mismatches.
      const auto i = static_cast<size_t>(c.judged_index(row));
      bool bad = false;
      for (int s = 0; s < 2; ++s) bad = bad || (!c.side[s]->oracle && c.judgement[s][i].ids == Verdict::Mismatch);
      ++(bad ? t.outside : t.inside);
    }
    const bool unequal = !(ids_same && w_same && l_same);
    if (unequal && t.first_unequal < 0) t.first_unequal = row;
    if (!ids_same || (c.bit_contract() && unequal)) t.differing.push_back(row);
  }
  for (int s = 0; s < 2; ++s)
    for (const RowJudgement& j : c.judgement[s]) t.verdicts[s].add(j);
  return t;
}

void print_report(const Comparison& c, const Tally& t) {
  const bool no_logits = c.out[0].logits.empty() || c.out[1].logits.empty();  // a file side
  std::printf("rows compared: %lld%s; bit-equal (weights+ids): %lld; logits bit-equal: %s; ids equal: %lld\n",
              static_cast<long long>(t.rows), c.with_oracle() && t.rows < c.n ? " (strided sample)" : "",
              static_cast<long long>(t.bit_equal),
              no_logits ? "n/a (file side)" : std::to_string(t.logits_equal).c_str(),
              static_cast<long long>(t.ids_equal));
  std::printf("ids differ: %lld rows (%lld inside the near-tie band, %lld outside)\n",
              static_cast<long long>(t.rows - t.ids_equal), static_cast<long long>(t.inside),
              static_cast<long long>(t.outside));
  std::printf("max weight difference on rows with equal ids: %lld ulp\n", static_cast<long long>(t.max_weight_ulp));
  if (!c.judged.empty()) {
    std::string line = "float64 oracle judged " + std::to_string(c.judged.size()) + " rows:";
    for (int s = 0; s < 2; ++s)
      if (!c.side[s]->oracle) line += (line.back() == ':' ? " " : "; ") + std::string(1, "ab"[s]) + " " + t.verdicts[s].text();
    std::printf("%s\n", line.c_str());
  }
  const int shown = c.side[0]->oracle ? 1 : 0;  // the load of a backend side
  std::printf("%c (%s): %s", "ab"[shown], c.side[shown]->label().c_str(),
              format_load_histogram(counts_of(c.out[shown].ids, c.E), c.n, static_cast<int>(c.k)).c_str());
}

void dump_differing(const Comparison& c, const Tally& t, const CompareArgs& a, const std::string& source) {
  if (t.differing.empty()) return;
  std::vector<DumpRow> rows;
  for (int64_t row : t.differing) {
    if (static_cast<int64_t>(rows.size()) >= a.dump_rows) break;
    DumpRow d;
    d.row = row;
    d.x = float_row(*c.in.x, row);
    if (c.in.token_ids) d.token_id = id_at(*c.in.token_ids, row);
    const int64_t i = c.judged_index(row);
    DumpSide* ds[2] = {&d.a, &d.b};
    for (int s = 0; s < 2; ++s) {
      const SideOutput& out = c.out[s];
      ds[s]->label = c.side[s]->label();
      ds[s]->ids.assign(out.ids.begin() + row * c.k, out.ids.begin() + (row + 1) * c.k);
      ds[s]->weights.assign(out.weights.begin() + row * c.k, out.weights.begin() + (row + 1) * c.k);
      if (!out.logits.empty())
        ds[s]->logits.assign(out.logits.begin() + row * c.E, out.logits.begin() + (row + 1) * c.E);
      if (i >= 0 && !c.side[s]->oracle) ds[s]->judgement = c.judgement[s][static_cast<size_t>(i)].explain;
    }
    rows.push_back(std::move(d));
  }
  write_compare_dump(a.dump, describe_math(c.cfg), source, rows);
  std::printf("dumped %zu of %zu differing rows to %s\n", rows.size(), t.differing.size(), a.dump.c_str());
}

// Empty when the pair keeps its contract, else why not.
std::string broken_contract(const Comparison& c, const Tally& t) {
  if (c.bit_contract() && (t.bit_equal != t.rows || t.logits_equal != t.rows))
    return "canonical on both sides must be bit-identical, but " +
           std::to_string(t.rows - std::min(t.bit_equal, t.logits_equal)) + " of " + std::to_string(t.rows) +
           " rows differ (first: row " + std::to_string(t.first_unequal) + ")";
  for (int s = 0; s < 2; ++s)
    if (t.verdicts[s].mismatch)
      return std::string(1, "ab"[s]) + " (" + c.side[s]->label() + ") has ids outside the near-tie band on " +
             std::to_string(t.verdicts[s].mismatch) + " rows (first: " + t.verdicts[s].first_mismatch + ")";
  return "";
}

void run_compare(const CompareArgs& a) {
  const Side A = parse_side(a.a, a.a_threads, "--a"), B = parse_side(a.b, a.b_threads, "--b");
  if (A.oracle && B.oracle)
    fail(ErrorCode::InvalidArgument, "--a, --b: expected at least one backend side, got oracle twice");
  const std::optional<CheckpointLayer> ckpt = open_checkpoint_layer(a.inputs);
  const RouterConfig cfg = input_config(a.config, ckpt);
  RouterInputs in = load_inputs(a.inputs, ckpt, cfg, /*complete=*/false);
  std::string source = complete_inputs(in, cfg, a);
  if ((A.gemm == GemmMode::Bf16 && !A.oracle) || (B.gemm == GemmMode::Bf16 && !B.oracle))
    if (round_inputs_to_bf16(in)) source += "; x and weight rounded to bfloat16 for the bf16 side";
  const int64_t n = in.x->shape[0], k = cfg.top_k, E = cfg.experts;

  std::printf("moerouter compare: a = %s, b = %s\n", A.label().c_str(), B.label().c_str());
  std::printf("config: %s\ninputs: %lld rows; %s\n", describe_math(cfg).c_str(), static_cast<long long>(n),
              source.c_str());
  std::fflush(stdout);

  Comparison c{cfg, in, {&A, &B},
               {A.oracle ? oracle_placeholder(n, k, E) : run_backend(A, cfg, in),
                B.oracle ? oracle_placeholder(n, k, E) : run_backend(B, cfg, in)},
               n, k, E, {}, {}, {}};
  for (int s = 0; s < 2; ++s)
    if (c.side[s]->file())
      std::printf("%c: precomputed outputs, %lld rows\n", "ab"[s], static_cast<long long>(n));
    else if (!c.side[s]->oracle)
      std::printf("%c: backend %s, kernel %s, %.3f ms, %lld non-finite rows\n", "ab"[s],
                  c.out[s].backend.c_str(), c.out[s].kernel.c_str(), c.out[s].ms,
                  static_cast<long long>(c.out[s].nonfinite_rows));
  std::fflush(stdout);

  choose_rows(c, a.sample);
  judge_rows(c);
  const Tally t = tally(c);
  print_report(c, t);
  dump_differing(c, t, a, source);

  // The verdict last, so the report above is complete either way.
  const std::string broken = broken_contract(c, t);
  if (!broken.empty()) {
    std::printf("contract: BROKEN\n");
    std::fflush(stdout);
    throw std::runtime_error("compare: " + broken);
  }
  std::printf("contract: holds (%s)\n", c.bit_contract() ? "canonical on both sides: bit-identical"
                                                         : "no id difference outside the near-tie band");
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Route the same inputs on two sides (backend:mode pairs, or one against the float64 "
                 "oracle) and check the pair's contract: canonical vs canonical bit-identical, anything "
                 "else no id difference outside the near-tie band (exit status 1 when broken)");
  const char* sides = "Sides";
  cmd->add_option("--a", args->a,
                  "oracle; DEVICE[:MODE]: DEVICE auto, cpu or cuda; MODE canonical, fp32 or bf16; or "
                  "file:WEIGHTS.npy,IDS.npy: outputs computed elsewhere ([N,k] float32; int32 or int64)")
      ->type_name("SIDE")->capture_default_str()->group(sides);
  cmd->add_option("--b", args->b, "The other side, as --a")->type_name("SIDE")->capture_default_str()->group(sides);
  cmd->add_option("--a-threads", args->a_threads, "CPU threads of side a; 0 = OpenMP's default")
      ->check(integer_at_least(0))->group(sides);
  cmd->add_option("--b-threads", args->b_threads, "CPU threads of side b")->check(integer_at_least(0))->group(sides);

  add_config_options(*cmd, args->config);
  add_input_options(*cmd, args->inputs, /*x_required=*/false);
  const char* gen = "Generated inputs (for what no file or checkpoint gives)";
  cmd->add_option("--n", args->n, "Rows of generated x")->capture_default_str()->check(integer_at_least(1))->group(gen);
  cmd->add_option("--kind", args->kind, "random, integer, ties or adversarial")->capture_default_str()->group(gen);
  cmd->add_option("--seed", args->seed, "Seed of the generator")->capture_default_str()->group(gen);
  cmd->add_option("--dtype", args->dtype, "Dtype of generated x and weight: f32 or bf16")
      ->capture_default_str()->check(CLI::IsMember({"f32", "bf16"}))->group(gen);
  cmd->add_option("--hash-vocab", args->hash_vocab, "Hash routing with a generated table of this many rows")
      ->check(integer_at_least(1))->group(gen);

  const char* rep = "Report";
  cmd->add_option("--sample", args->sample,
                  "Rows (evenly strided) judged against the float64 oracle: against an oracle side the "
                  "rows compared (0 = all); between backends, judged besides the differing rows")
      ->capture_default_str()->check(integer_at_least(0))->group(rep);
  cmd->add_option("--dump", args->dump, "JSON file for the first differing rows (written only when rows differ)")
      ->type_name("FILE.json")->capture_default_str()->group(rep);
  cmd->add_option("--dump-rows", args->dump_rows, "Differing rows written to the dump")
      ->capture_default_str()->check(integer_at_least(0))->group(rep);
  cmd->callback([args] { run_compare(*args); });
}

}  // namespace moerouter::cli
