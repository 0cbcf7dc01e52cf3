// libFuzzer target: the safetensors reader (io/safetensors.hpp) on arbitrary bytes, through
// SafetensorsFile::from_memory, the parser SafetensorsFile::open wraps around a mapping: header
// length, header JSON, dtypes and shapes against byte ranges, ranges past the data or overlapping.
// When a file parses, every tensor's bytes are touched (ASan knows exactly where the input ends),
// every loadable tensor is loaded and compared with them, the router-layer grouping runs over the
// names, and writing the tensors back out must give a file that reads back the same.
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "fuzz_common.hpp"
#include "io/router_layers.hpp"
#include "io/safetensors.hpp"
#include "io/safetensors_write.hpp"

using namespace moerouter;
using namespace moerouter::io;
using moerouter::fuzz::expect_error_or_success;
using moerouter::fuzz::must_succeed;

namespace {

const char kName[] = "fuzz.safetensors";

void use(const SafetensorsFile& f, const uint8_t* file, size_t size) {
  // The reader said the header fits; where the data starts follows from the first 8 bytes.
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(file[i]) << (8 * i);
  const uint64_t data_offset = 8 + header_len;
  MOEROUTER_FUZZ_CHECK(data_offset <= size, "header past the file");
  const uint64_t data_size = size - data_offset;
  const std::byte* data = reinterpret_cast<const std::byte*>(file) + data_offset;

  std::vector<CheckpointTensor> infos;
  std::vector<StTensorOut> out;
  std::string previous;
  for (const StTensorInfo& t : f.tensors()) {
    MOEROUTER_FUZZ_CHECK(&t == &f.tensors().front() || previous < t.name, "tensors not sorted by name");
    previous = t.name;
    MOEROUTER_FUZZ_CHECK(t.begin <= t.end && t.end <= data_size, t.name);
    MOEROUTER_FUZZ_CHECK(f.find(t.name) == &t, t.name);
    (void)t.shape_string();
    const int64_t n = t.numel();
    MOEROUTER_FUZZ_CHECK(n >= 0, t.shape_string());
    MOEROUTER_FUZZ_CHECK(static_cast<uint64_t>(n) * static_cast<uint64_t>(bits(t.dtype)) == t.bytes() * 8,
                         t.name + " " + t.shape_string() + " " + to_string(t.dtype));
    // Touch every byte of the tensor.
    unsigned sum = 0;
    for (uint64_t i = 0; i < t.bytes(); ++i) sum += static_cast<unsigned>(data[t.begin + i]);
    (void)sum;

    CheckpointTensor info;
    must_succeed("info", [&] { info = f.info(t.name); });
    MOEROUTER_FUZZ_CHECK(info.name == t.name && info.file == kName && info.shape == t.shape, t.name);
    infos.push_back(info);
    out.push_back({t.name, t.dtype, t.shape, data + t.begin});

    HostTensor h;
    const bool loadable = router_dtype(t.dtype) && t.shape.size() <= static_cast<size_t>(kMaxRank);
    const bool loaded = expect_error_or_success("load", [&] { h = f.load(t.name); });
    MOEROUTER_FUZZ_CHECK(loaded == loadable, t.name + ": load " + (loaded ? "succeeded" : "failed") +
                                                 " for " + to_string(t.dtype) + " " + t.shape_string());
    if (!loaded) continue;
    const TensorView& v = h.view;
    MOEROUTER_FUZZ_CHECK(v.numel() == n && v.is_contiguous() && v.dtype == *router_dtype(t.dtype), t.name);
    MOEROUTER_FUZZ_CHECK(reinterpret_cast<uintptr_t>(v.data) % dtype_size(v.dtype) == 0, "unaligned view");
    MOEROUTER_FUZZ_CHECK(t.bytes() == 0 || std::memcmp(v.data, data + t.begin, t.bytes()) == 0,
                         t.name + ": the view's bytes differ from the file's");
  }
  for (const auto& [key, value] : f.metadata()) (void)(key.size() + value.size());

  // The router-layer view of the names: groups, or says which layer lacks its weight.
  expect_error_or_success("group_router_layers", [&] {
    for (const RouterLayer& l : group_router_layers(infos, "'fuzz'")) {
      MOEROUTER_FUZZ_CHECK(l.index >= 0, "negative layer index");
      const auto parsed = parse_router_tensor_name(l.weight.name);
      MOEROUTER_FUZZ_CHECK(parsed && parsed->role == RouterRole::Weight && parsed->layer == l.index,
                           l.weight.name);
      MOEROUTER_FUZZ_CHECK(router_tensor_name(l.naming, l.index, RouterRole::Weight) == l.weight.name,
                           l.weight.name);
    }
  });

  // Written back out (packed, in name order), the same tensors and metadata read back.
  must_succeed("encode_safetensors round trip", [&] {
    const std::vector<std::byte> image = encode_safetensors(out, f.metadata());
    const SafetensorsFile back = SafetensorsFile::from_memory(nullptr, image.data(), image.size(), kName);
    MOEROUTER_FUZZ_CHECK(back.tensors().size() == f.tensors().size(), "tensor count changed");
    MOEROUTER_FUZZ_CHECK(back.metadata() == f.metadata(), "metadata changed");
    const uint8_t* bfile = reinterpret_cast<const uint8_t*>(image.data());
    uint64_t blen = 0;
    for (int i = 0; i < 8; ++i) blen |= static_cast<uint64_t>(bfile[i]) << (8 * i);
    for (size_t i = 0; i < out.size(); ++i) {
      const StTensorInfo& a = f.tensors()[i];
      const StTensorInfo& b = back.tensors()[i];
      MOEROUTER_FUZZ_CHECK(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape &&
                               a.bytes() == b.bytes(),
                           a.name);
      MOEROUTER_FUZZ_CHECK(a.bytes() == 0 || std::memcmp(data + a.begin, image.data() + 8 + blen + b.begin,
                                                         a.bytes()) == 0,
                           a.name + ": bytes changed");
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<SafetensorsFile> f;
  if (expect_error_or_success("from_memory", [&] {
        f.emplace(SafetensorsFile::from_memory(nullptr, reinterpret_cast<const std::byte*>(data), size, kName));
      }))
    use(*f, data, size);
  return 0;
}
