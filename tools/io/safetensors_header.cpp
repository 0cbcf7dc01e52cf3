#include "io/safetensors_header.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <set>
#include <sstream>

#include "io/json_parse.hpp"
#include "moerouter/error.hpp"

namespace moerouter::io {

namespace {

using nlohmann::json;

struct DTypeRow {
  StDType type;
  const char* name;
  int bits;
};

constexpr DTypeRow kDTypes[] = {
    {StDType::BOOL, "BOOL", 8},       {StDType::U8, "U8", 8},
    {StDType::I8, "I8", 8},           {StDType::F8_E5M2, "F8_E5M2", 8},
    {StDType::F8_E4M3, "F8_E4M3", 8}, {StDType::F8_E8M0, "F8_E8M0", 8},
    {StDType::F4, "F4", 4},           {StDType::F6_E2M3, "F6_E2M3", 6},
    {StDType::F6_E3M2, "F6_E3M2", 6}, {StDType::I16, "I16", 16},
    {StDType::U16, "U16", 16},        {StDType::F16, "F16", 16},
    {StDType::BF16, "BF16", 16},      {StDType::I32, "I32", 32},
    {StDType::U32, "U32", 32},        {StDType::F32, "F32", 32},
    {StDType::I64, "I64", 64},        {StDType::U64, "U64", 64},
    {StDType::F64, "F64", 64},        {StDType::C64, "C64", 64},
};

std::string known_dtypes() {
  std::string s;
  for (const auto& r : kDTypes) s += (s.empty() ? "" : ", ") + std::string(r.name);
  return s;
}

class HeaderChecker {
 public:
  HeaderChecker(uint64_t data_size, const std::string& label) : data_size_(data_size), label_(label) {}

  [[noreturn]] void error(const std::string& what) const {
    fail(ErrorCode::IoError, label_, ": bad safetensors header: ", what);
  }
  [[noreturn]] void error(const std::string& tensor, const std::string& what) const {
    error("tensor '" + tensor + "': " + what);
  }

  uint64_t unsigned_field(const json& v, const std::string& tensor, const std::string& field) const {
    if (!v.is_number_integer())
      error(tensor, field + ": expected a non-negative integer, got " + v.dump());
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    const int64_t s = v.get<int64_t>();
    if (s < 0) error(tensor, field + ": expected a non-negative integer, got " + std::to_string(s));
    return static_cast<uint64_t>(s);
  }

  StTensorInfo tensor(const std::string& name, const json& entry) const {
    if (!entry.is_object())
      error(name, "expected an object {\"dtype\", \"shape\", \"data_offsets\"}, got " +
                      std::string(entry.type_name()));
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(key)) error(name, std::string("missing \"") + key + "\"");
    StTensorInfo t;
    t.name = name;

    const json& d = entry.at("dtype");
    if (!d.is_string()) error(name, "dtype: expected a string, got " + d.dump());
    const auto dt = parse_st_dtype(d.get<std::string>());
    if (!dt) error(name, "unknown dtype '" + d.get<std::string>() + "' (expected one of " + known_dtypes() + ")");
    t.dtype = *dt;

    const json& s = entry.at("shape");
    if (!s.is_array()) error(name, "shape: expected an array of extents, got " + s.dump());
    // Bits counted in 128 bits, so no shape can overflow the size check.
    unsigned __int128 total_bits = static_cast<unsigned>(bits(t.dtype));
    bool huge = false;
    for (const json& e : s) {
      const uint64_t extent = unsigned_field(e, name, "shape");
      if (extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        error(name, "shape: extent " + std::to_string(extent) + " does not fit in int64");
      t.shape.push_back(static_cast<int64_t>(extent));
      if (extent == 0) total_bits = 0;
      else if (total_bits > (static_cast<unsigned __int128>(1) << 100) / extent) huge = true;
      else total_bits *= extent;
    }

    const json& o = entry.at("data_offsets");
    if (!o.is_array() || o.size() != 2) error(name, "data_offsets: expected [begin, end], got " + o.dump());
    t.begin = unsigned_field(o[0], name, "data_offsets");
    t.end = unsigned_field(o[1], name, "data_offsets");
    if (t.end < t.begin)
      error(name, "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                      "]: end before begin");
    if (t.end > data_size_)
      error(name, "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                      "] run past the end of the data (" + std::to_string(data_size_) +
                      " bytes after the header): offsets out of file (truncated?)");
    const uint64_t have = t.end - t.begin;
    if (huge || total_bits % 8 != 0 || total_bits / 8 != have) {
      std::string need = huge ? "more than 2^97" : total_bits % 8 ? "a fractional number of" :
                                std::to_string(static_cast<uint64_t>(total_bits / 8));
      error(name, "size mismatch: shape " + t.shape_string() + " of " + to_string(t.dtype) +
                      " needs " + need + " bytes, data_offsets [" + std::to_string(t.begin) + ", " +
                      std::to_string(t.end) + "] hold " + std::to_string(have));
    }
    // An empty tensor may still list huge extents ([0, 2^32, 2^32] holds 0 bytes), but numel()
    // and a loaded view's strides multiply them in int64: the nonzero extents' product must fit.
    int64_t nonzero = 1;
    for (int64_t d : t.shape)
      if (d != 0 && __builtin_mul_overflow(nonzero, d, &nonzero))
        error(name, "shape " + t.shape_string() + ": expected extents whose product (zeros left " +
                        "out) fits in int64, got a larger product");
    return t;
  }

  std::map<std::string, std::string> metadata(const json& m) const {
    if (!m.is_object()) error("\"__metadata__\": expected an object of strings, got " + std::string(m.type_name()));
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : m.items()) {
      if (!value.is_string())
        error("\"__metadata__\": \"" + key + "\": expected a string, got " + value.dump());
      out[key] = value.get<std::string>();
    }
    return out;
  }

  // Sorted by offset, each non-empty range must start at or after the previous one's end.
  void no_overlaps(std::vector<StTensorInfo> t) const {
    t.erase(std::remove_if(t.begin(), t.end(), [](const StTensorInfo& x) { return x.bytes() == 0; }),
            t.end());
    std::sort(t.begin(), t.end(), [](const StTensorInfo& a, const StTensorInfo& b) {
      return a.begin < b.begin || (a.begin == b.begin && a.name < b.name);
    });
    for (size_t i = 1; i < t.size(); ++i)
      if (t[i].begin < t[i - 1].end)
        error("overlapping data ranges: tensor '" + t[i - 1].name + "' [" +
              std::to_string(t[i - 1].begin) + ", " + std::to_string(t[i - 1].end) +
              ") and tensor '" + t[i].name + "' [" + std::to_string(t[i].begin) + ", " +
              std::to_string(t[i].end) + ")");
  }

 private:
  uint64_t data_size_;
  const std::string& label_;
};

}  // namespace

const char* to_string(StDType t) noexcept {
  for (const auto& r : kDTypes)
    if (r.type == t) return r.name;
  return "?";
}

int bits(StDType t) noexcept {
  for (const auto& r : kDTypes)
    if (r.type == t) return r.bits;
  return 0;
}

std::optional<StDType> parse_st_dtype(std::string_view s) {
  for (const auto& r : kDTypes)
    if (s == r.name) return r.type;
  return std::nullopt;
}

std::optional<DType> router_dtype(StDType t) noexcept {
  switch (t) {
    case StDType::F32: return DType::F32;
    case StDType::BF16: return DType::BF16;
    case StDType::I32: return DType::I32;
    case StDType::I64: return DType::I64;
    default: return std::nullopt;
  }
}

int64_t StTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string StTensorInfo::shape_string() const {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

const StTensorInfo* StHeader::find(const std::string& name) const {
  const auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                                   [](const StTensorInfo& t, const std::string& n) { return t.name < n; });
  return it != tensors.end() && it->name == name ? &*it : nullptr;
}

namespace detail {

StHeader parse_safetensors_header(std::string_view text, uint64_t data_size, const std::string& label) {
  const HeaderChecker check(data_size, label);
  // nlohmann keeps the last of repeated keys silently; a repeated tensor name is a corrupt file,
  // so the parser callback watches the top level's keys. It also bounds the nesting (json_parse.hpp).
  std::set<std::string> names;
  std::string repeated;
  const json::parser_callback_t watch = [&](int depth, json::parse_event_t event, json& parsed) {
    if (detail::json_too_deep(depth, event)) check.error(detail::json_depth_message());
    if (event == json::parse_event_t::key && depth == 1 && repeated.empty() &&
        !names.insert(parsed.get<std::string>()).second)
      repeated = parsed.get<std::string>();
    return true;
  };
  json root;
  try {
    root = json::parse(text.begin(), text.end(), watch);
  } catch (const json::exception& e) {
    check.error(std::string("bad JSON: ") + e.what());
  }
  if (!repeated.empty()) check.error("tensor name '" + repeated + "' appears twice");
  if (!root.is_object()) check.error(std::string("expected a JSON object, got ") + root.type_name());

  StHeader h;
  for (const auto& [name, entry] : root.items()) {
    if (name == "__metadata__") h.metadata = check.metadata(entry);
    else h.tensors.push_back(check.tensor(name, entry));
  }
  check.no_overlaps(h.tensors);
  std::sort(h.tensors.begin(), h.tensors.end(),
            [](const StTensorInfo& a, const StTensorInfo& b) { return a.name < b.name; });
  return h;
}

}  // namespace detail

}  // namespace moerouter::io
