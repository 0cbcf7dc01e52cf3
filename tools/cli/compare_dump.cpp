#include "cli/compare_dump.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "io/atomic_file.hpp"

namespace moerouter::cli {

namespace {

using Json = nlohmann::ordered_json;

// JSON has no NaN or infinity; a dump must still show them.
Json number(float f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  return static_cast<double>(f);  // a double prints enough digits to read back the same float
}

Json numbers(const std::vector<float>& v) {
  Json a = Json::array();
  for (float f : v) a.push_back(number(f));
  return a;
}

// Bit patterns, because "0.16666667" hides which of two adjacent floats it was.
Json bit_patterns(const std::vector<float>& v) {
  Json a = Json::array();
  for (float f : v) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", u);
    a.push_back(buf);
  }
  return a;
}

Json side_json(const DumpSide& s) {
  Json j;
  j["side"] = s.label;
  j["ids"] = s.ids;
  j["weights"] = numbers(s.weights);
  j["weight_bits"] = bit_patterns(s.weights);
  if (!s.logits.empty()) j["logits"] = numbers(s.logits);
  if (!s.judgement.empty()) j["oracle_judgement"] = s.judgement;
  return j;
}

}  // namespace

std::vector<float> float_row(const TensorView& x, int64_t row) {
  const int64_t H = x.shape[1];
  std::vector<float> out(static_cast<size_t>(H));
  const char* base = static_cast<const char*>(x.data);
  for (int64_t i = 0; i < H; ++i) {
    const int64_t at = row * x.strides[0] + i * x.strides[1];
    if (x.dtype == DType::BF16) {
      uint16_t b;
      std::memcpy(&b, base + at * 2, 2);
      out[static_cast<size_t>(i)] = bf16_to_float(b);
    } else {
      std::memcpy(&out[static_cast<size_t>(i)], base + at * 4, 4);
    }
  }
  return out;
}

int64_t id_at(const TensorView& ids, int64_t row) {
  const char* p = static_cast<const char*>(ids.data) + row * ids.strides[0] * static_cast<int64_t>(dtype_size(ids.dtype));
  if (ids.dtype == DType::I64) {
    int64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

void write_compare_dump(const std::string& path, const std::string& config, const std::string& inputs,
                        const std::vector<DumpRow>& rows) {
  Json root;
  root["config"] = config;
  root["inputs"] = inputs;
  root["rows"] = Json::array();
  for (const DumpRow& r : rows) {
    Json j;
    j["row"] = r.row;
    if (r.token_id) j["token_id"] = *r.token_id;
    j["a"] = side_json(r.a);
    j["b"] = side_json(r.b);
    j["x"] = numbers(r.x);
    root["rows"].push_back(std::move(j));
  }
  const std::string text = root.dump(1) + "\n";
  io::write_file_atomic(path, text.data(), text.size());
}

}  // namespace moerouter::cli
