// The bad-input matrix (README "Bad input") as one table of cases that every backend runs:
// tests/test_bad_input.cpp on the CPU with host tensors, tests/test_cuda_bad_input.cpp on the CUDA
// backend with device tensors. A case changes one argument of a valid route() call; the call must
// throw Error with the case's code, a message "<code>: <argument>: expected <...>, got <...>"
// containing "expected" and the case's parts (for the table's cases: "<argument>: expected <...>"
// and "got <...>", checked by tests/test_bad_input.cpp), and every output (weights, ids, counts,
// logits, layout) must keep its poison.
//
// Memory is abstract (BadInputMemory) so that the same case builds its tensors in host or device
// memory: a case that needs a hash table with one bad entry asks the memory for that table.
#pragma once
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "moerouter/config.hpp"
#include "moerouter/error.hpp"
#include "moerouter/router.hpp"
#include "moerouter/tensor.hpp"
#include "support/test_data.hpp"

namespace moerouter::testing {

// Where a backend's tensors live. make() returns a contiguous tensor (rank 1 or 2) in a fresh
// allocation holding `init`'s bytes, or the poison byte 0xA5 when init is empty. read(p) returns
// all bytes of the allocation that contains address p (empty when none does: a null pointer), so
// spoiled views (shifted, reshaped) are read through the memory they point into.
class BadInputMemory {
 public:
  virtual ~BadInputMemory() = default;
  virtual TensorView make(DType dtype, std::vector<int64_t> shape, const std::vector<char>& init = {}) = 0;
  virtual std::vector<char> read(const void* p) = 0;
};

// Helpers for the two implementations.
inline size_t bad_input_bytes(DType dtype, const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n * dtype_size(dtype);
}
inline TensorView bad_input_view(void* data, DType dtype, const std::vector<int64_t>& shape, DeviceType device,
                                 int device_id) {
  return shape.size() == 1 ? TensorView::vector(data, dtype, shape[0], device, device_id)
                           : TensorView::matrix(data, dtype, shape[0], shape[1], device, device_id);
}

template <class T>
std::vector<char> bytes_of(const std::vector<T>& v) {
  std::vector<char> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// The valid call every case starts from: sigmoid router, H = 40, E = 16, k = 3, N = 6, with
// counts, logits and the dispatch layout requested (so they are checked for poison too).
struct BadInputCall {
  static constexpr int64_t kN = 6, kH = 40, kE = 16;
  static constexpr int kK = 3;
  static RouterConfig config() {
    RouterConfig c;
    c.hidden = kH;
    c.experts = kE;
    c.top_k = kK;
    c.score = ScoreFn::Sigmoid;
    return c;
  }
  static std::vector<float> weight() { return uniform_vector(kE * kH, -0.3f, 0.3f, 1); }
  static std::vector<float> bias() { return uniform_vector(kE, -0.1f, 0.1f, 2); }

  TensorView x, weights_out, ids_out;
  RouteOptions options;

  explicit BadInputCall(BadInputMemory& m) {
    x = m.make(DType::F32, {kN, kH}, bytes_of(uniform_vector(kN * kH, -1, 1, 3)));
    weights_out = m.make(DType::F32, {kN, kK});
    ids_out = m.make(DType::I32, {kN, kK});
    options.counts_out = m.make(DType::I64, {kE});
    options.logits_out = m.make(DType::F32, {kN, kE});
    options.expert_offsets_out = m.make(DType::I64, {kE + 1});
    options.token_slots_out = m.make(DType::I64, {kN * kK});
  }
  std::vector<TensorView> outputs() const {
    return {weights_out, ids_out, *options.counts_out, *options.logits_out, *options.expert_offsets_out,
            *options.token_slots_out};
  }
  // Hash routing with valid ids and table (vocab 5), as I32.
  void add_hash(BadInputMemory& m, std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 1},
                std::vector<int32_t> table = valid_table()) {
    options.token_ids = m.make(DType::I32, {static_cast<int64_t>(tokens.size())}, bytes_of(tokens));
    options.hash_table = m.make(DType::I32, {static_cast<int64_t>(table.size()) / kK, kK}, bytes_of(table));
  }
  static std::vector<int32_t> valid_table() {
    std::vector<int32_t> t(5 * kK);
    for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>(i % kE);
    return t;
  }
};

struct BadInputCase {
  std::string name;
  ErrorCode code;
  std::vector<std::string> parts;  // substrings the message must contain
  std::function<void(BadInputCall&, BadInputMemory&)> spoil;
};

// One row of the README table per group of cases; the comment names the row. The parts are the
// real message's pieces (core/src/route_checks.cpp): "<argument>: expected <expected>" and
// "got <actual>", so both sides and the argument's name are checked (every case needs
// one part of each kind: tests/test_bad_input.cpp checks that).
inline std::vector<BadInputCase> bad_input_cases() {
  using C = BadInputCall;
  std::vector<BadInputCase> v;
  // shape_mismatch: x of rank != 2, wrong H, outputs of wrong shape or rank
  v.push_back({"x of rank 1", ErrorCode::ShapeMismatch, {"x: expected 2 dims [N, 40]", "got 1 dims [240]"},
               [](C& c, BadInputMemory&) {
                 c.x = TensorView::vector(c.x.data, DType::F32, C::kN * C::kH, c.x.device, c.x.device_id);
               }});
  v.push_back({"x with the wrong hidden size", ErrorCode::ShapeMismatch,
               {"x: expected shape [N, 40] (hidden)", "got shape [6, 39]"},
               [](C& c, BadInputMemory&) { c.x.shape[1] = 39; c.x.strides[0] = 39; }});
  v.push_back({"weights_out with the wrong shape", ErrorCode::ShapeMismatch,
               {"weights_out: expected shape [6, 3]", "got shape [6, 2]"},
               [](C& c, BadInputMemory&) { c.weights_out.shape[1] = 2; c.weights_out.strides[0] = 2; }});
  v.push_back({"weights_out of rank 1", ErrorCode::ShapeMismatch, {"weights_out: expected 2 dims [6, 3]", "got 1 dims [18]"},
               [](C& c, BadInputMemory&) {
                 c.weights_out = TensorView::vector(c.weights_out.data, DType::F32, C::kN * C::kK,
                                                    c.weights_out.device, c.weights_out.device_id);
               }});
  v.push_back({"ids_out with N rows of another batch", ErrorCode::ShapeMismatch,
               {"ids_out: expected shape [6, 3]", "got shape [5, 3]"},
               [](C& c, BadInputMemory&) { c.ids_out.shape[0] = 5; }});
  v.push_back({"counts_out of the wrong length", ErrorCode::ShapeMismatch, {"counts_out: expected shape [16]", "got shape [15]"},
               [](C& c, BadInputMemory&) { c.options.counts_out->shape[0] = 15; }});
  v.push_back({"counts_out of rank 2", ErrorCode::ShapeMismatch, {"counts_out: expected 1 dims [16]", "got 2 dims [4, 4]"},
               [](C& c, BadInputMemory&) {
                 TensorView& t = *c.options.counts_out;
                 t = TensorView::matrix(t.data, t.dtype, 4, 4, t.device, t.device_id);
               }});
  v.push_back({"logits_out of the wrong width", ErrorCode::ShapeMismatch,
               {"logits_out: expected shape [6, 16]", "got shape [6, 15]"},
               [](C& c, BadInputMemory&) { c.options.logits_out->shape[1] = 15; c.options.logits_out->strides[0] = 15; }});
  v.push_back({"expert_offsets_out of length E", ErrorCode::ShapeMismatch,
               {"expert_offsets_out: expected shape [17]", "got shape [16]"},
               [](C& c, BadInputMemory&) { c.options.expert_offsets_out->shape[0] = 16; }});
  v.push_back({"token_slots_out of the wrong length", ErrorCode::ShapeMismatch,
               {"token_slots_out: expected shape [18]", "got shape [17]"},
               [](C& c, BadInputMemory&) { c.options.token_slots_out->shape[0] = 17; }});
  // dtype_mismatch: x not bf16/f32, ids not int32, counts/layout not int32/int64
  v.push_back({"x of dtype int32", ErrorCode::DtypeMismatch, {"x: expected float32 or bfloat16", "got int32"},
               [](C& c, BadInputMemory&) { c.x.dtype = DType::I32; }});
  v.push_back({"ids_out of dtype int64", ErrorCode::DtypeMismatch, {"ids_out: expected int32", "got int64"},
               [](C& c, BadInputMemory& m) { c.ids_out = m.make(DType::I64, {C::kN, C::kK}); }});
  v.push_back({"weights_out of dtype bf16", ErrorCode::DtypeMismatch, {"weights_out: expected float32", "got bfloat16"},
               [](C& c, BadInputMemory& m) { c.weights_out = m.make(DType::BF16, {C::kN, C::kK}); }});
  v.push_back({"logits_out of dtype bf16", ErrorCode::DtypeMismatch, {"logits_out: expected float32", "got bfloat16"},
               [](C& c, BadInputMemory& m) { c.options.logits_out = m.make(DType::BF16, {C::kN, C::kE}); }});
  v.push_back({"counts_out of dtype float32", ErrorCode::DtypeMismatch, {"counts_out: expected int32 or int64", "got float32"},
               [](C& c, BadInputMemory& m) { c.options.counts_out = m.make(DType::F32, {C::kE}); }});
  v.push_back({"expert_offsets_out of dtype float32", ErrorCode::DtypeMismatch,
               {"expert_offsets_out: expected int32 or int64", "got float32"},
               [](C& c, BadInputMemory& m) { c.options.expert_offsets_out = m.make(DType::F32, {C::kE + 1}); }});
  v.push_back({"token_slots_out of dtype float32", ErrorCode::DtypeMismatch,
               {"token_slots_out: expected int32 or int64", "got float32"},
               [](C& c, BadInputMemory& m) { c.options.token_slots_out = m.make(DType::F32, {C::kN * C::kK}); }});
  // N * k past int32 with an int32 layout (views only: nothing is read before the check fails).
  v.push_back({"int32 expert_offsets_out with N * k > 2^31 - 1", ErrorCode::DtypeMismatch,
               {"expert_offsets_out: expected int64 when N * k exceeds 2^31 - 1", "got int32 with N * k = 3221225472"},
               [](C& c, BadInputMemory& m) {
                 const int64_t n = int64_t{1} << 30;
                 c.x.shape[0] = n;
                 c.weights_out.shape[0] = n;
                 c.ids_out.shape[0] = n;
                 c.options.logits_out->shape[0] = n;
                 c.options.token_slots_out->shape[0] = n * C::kK;
                 c.options.expert_offsets_out = m.make(DType::I32, {C::kE + 1});
               }});
  v.push_back({"token ids of dtype float32", ErrorCode::DtypeMismatch, {"token_ids: expected int32 or int64", "got float32"},
               [](C& c, BadInputMemory& m) {
                 c.add_hash(m);
                 c.options.token_ids->dtype = DType::F32;
               }});
  // invalid_argument / shape_mismatch: hash routing
  v.push_back({"token id >= vocab", ErrorCode::InvalidArgument, {"token_ids[4]: expected a token id in [0, 5)", "got 5"},
               [](C& c, BadInputMemory& m) { c.add_hash(m, {0, 1, 2, 3, 5, 1}); }});
  v.push_back({"negative token id", ErrorCode::InvalidArgument, {"token_ids[2]: expected a token id in [0, 5)", "got -1"},
               [](C& c, BadInputMemory& m) { c.add_hash(m, {0, 1, -1, 3, 4, 1}); }});
  v.push_back({"hash-table entry out of range", ErrorCode::InvalidArgument,
               {"hash_table[3][1]: expected an expert id in [0, 16)", "got 16"},
               [](C& c, BadInputMemory& m) {
                 std::vector<int32_t> t = C::valid_table();
                 t[3 * C::kK + 1] = 16;
                 c.add_hash(m, {0, 1, 2, 3, 4, 1}, t);
               }});
  v.push_back({"negative hash-table entry", ErrorCode::InvalidArgument,
               {"hash_table[1][0]: expected an expert id in [0, 16)", "got -2"},
               [](C& c, BadInputMemory& m) {
                 std::vector<int32_t> t = C::valid_table();
                 t[1 * C::kK] = -2;
                 c.add_hash(m, {0, 1, 2, 3, 4, 1}, t);
               }});
  v.push_back({"hash table of the wrong width", ErrorCode::ShapeMismatch,
               {"hash_table: expected shape [vocab >= 1, 3] (top_k)", "got shape [3, 5]"},
               [](C& c, BadInputMemory& m) {
                 c.add_hash(m);
                 c.options.hash_table->shape[0] = 3;
                 c.options.hash_table->shape[1] = 5;
                 c.options.hash_table->strides[0] = 5;
               }});
  v.push_back({"token ids without a table", ErrorCode::InvalidArgument,
               {"hash routing: expected both token_ids and hash_table, or neither", "got token_ids without hash_table"},
               [](C& c, BadInputMemory& m) {
                 c.add_hash(m);
                 c.options.hash_table.reset();
               }});
  v.push_back({"a table without token ids", ErrorCode::InvalidArgument,
               {"hash routing: expected both token_ids and hash_table, or neither", "got hash_table without token_ids"},
               [](C& c, BadInputMemory& m) {
                 c.add_hash(m);
                 c.options.token_ids.reset();
               }});
  v.push_back({"token ids of the wrong length", ErrorCode::ShapeMismatch, {"token_ids: expected shape [6]", "got shape [5]"},
               [](C& c, BadInputMemory& m) { c.add_hash(m, {0, 1, 2, 3, 4}); }});
  // invalid_argument: null data with N > 0
  v.push_back({"x null with N > 0", ErrorCode::InvalidArgument, {"x: expected non-null data for [6, 40]", "got null"},
               [](C& c, BadInputMemory&) { c.x.data = nullptr; }});
  v.push_back({"ids_out null with N > 0", ErrorCode::InvalidArgument, {"ids_out: expected non-null data for [6, 3]", "got null"},
               [](C& c, BadInputMemory&) { c.ids_out.data = nullptr; }});
  v.push_back({"counts_out null", ErrorCode::InvalidArgument, {"counts_out: expected non-null data for [16]", "got null"},
               [](C& c, BadInputMemory&) { c.options.counts_out->data = nullptr; }});
  // layout_unsupported: non-contiguous outputs, x inner stride != 1 or row stride < H, misaligned
  // pointers. Spoiled strides stay inside the allocation (overlapping or zero).
  const std::string contiguous = ": expected contiguous C-order strides";
  v.push_back({"non-contiguous weights_out", ErrorCode::LayoutUnsupported, {"weights_out" + contiguous, "got strides [2, 1]"},
               [](C& c, BadInputMemory&) { c.weights_out.strides[0] = 2; }});
  v.push_back({"non-contiguous ids_out", ErrorCode::LayoutUnsupported, {"ids_out" + contiguous, "got strides [2, 1]"},
               [](C& c, BadInputMemory&) { c.ids_out.strides[0] = 2; }});
  v.push_back({"non-contiguous logits_out", ErrorCode::LayoutUnsupported, {"logits_out" + contiguous, "got strides [8, 1]"},
               [](C& c, BadInputMemory&) { c.options.logits_out->strides[0] = 8; }});
  v.push_back({"counts_out of stride 0", ErrorCode::LayoutUnsupported, {"counts_out" + contiguous, "got strides [0]"},
               [](C& c, BadInputMemory&) { c.options.counts_out->strides[0] = 0; }});
  v.push_back({"x with a column stride", ErrorCode::LayoutUnsupported,
               {"x: expected unit inner stride and row stride >= hidden", "got strides [40, 2]"},
               [](C& c, BadInputMemory&) { c.x.strides[1] = 2; }});
  v.push_back({"x with a row stride < H", ErrorCode::LayoutUnsupported,
               {"x: expected unit inner stride and row stride >= hidden", "got strides [39, 1]"},
               [](C& c, BadInputMemory&) { c.x.strides[0] = 39; }});
  v.push_back({"misaligned x", ErrorCode::LayoutUnsupported, {"x: expected 4-byte aligned data", "got address "},
               [](C& c, BadInputMemory&) { c.x.data = static_cast<char*>(c.x.data) + 1; }});
  v.push_back({"misaligned weights_out", ErrorCode::LayoutUnsupported, {"weights_out: expected 4-byte aligned data", "got address "},
               [](C& c, BadInputMemory&) { c.weights_out.data = static_cast<char*>(c.weights_out.data) + 2; }});
  v.push_back({"misaligned counts_out", ErrorCode::LayoutUnsupported, {"counts_out: expected 8-byte aligned data", "got address "},
               [](C& c, BadInputMemory&) {
                 c.options.counts_out->data = static_cast<char*>(c.options.counts_out->data) + 4;
               }});
  // invalid_argument: negative threads
  v.push_back({"negative threads", ErrorCode::InvalidArgument, {"threads: expected threads >= 0 (0 = OpenMP default)", "got -1"},
               [](C& c, BadInputMemory&) { c.options.threads = -1; }});
  return v;
}

// Runs one case: spoils a fresh valid call, routes, and checks the error and the untouched outputs.
// Returns an empty string when everything holds, else what failed (for the test to report).
inline std::string run_bad_input_case(Router& router, BadInputMemory& memory, const BadInputCase& bad) {
  BadInputCall call(memory);
  std::vector<const void*> outs;  // the valid call's outputs and the spoiled call's
  for (const TensorView& t : call.outputs()) outs.push_back(t.data);
  bad.spoil(call, memory);
  for (const TensorView& t : call.outputs()) outs.push_back(t.data);
  std::vector<std::vector<char>> before;
  for (const void* p : outs) before.push_back(memory.read(p));
  std::string problem;
  try {
    router.route(call.x, call.weights_out, call.ids_out, call.options);
    problem = "no error thrown";
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (e.code() != bad.code)
      problem = std::string("code ") + to_string(e.code()) + ", expected " + to_string(bad.code);
    for (const std::string& part : bad.parts)
      if (msg.find(part) == std::string::npos) problem += " [message lacks '" + part + "']";
    // "<argument>: expected ..." parts are anchored: the message starts "<code>: <argument>: ".
    for (const std::string& part : bad.parts)
      if (part.find(": expected ") != std::string::npos &&
          msg.rfind(std::string(to_string(bad.code)) + ": " + part, 0) != 0)
        problem += " [message does not start with '" + std::string(to_string(bad.code)) + ": " + part + "']";
    if (!problem.empty()) problem += ": " + msg;
  }
  for (size_t i = 0; i < outs.size(); ++i)
    if (memory.read(outs[i]) != before[i]) problem += " [output " + std::to_string(i % 6) + " was written]";
  return problem;
}

}  // namespace moerouter::testing
