// libFuzzer target: the .npy reader (io/npy.hpp) on arbitrary bytes, through read_npy_bytes, the
// parser read_npy wraps. When a file parses, everything a caller may do with the array must work
// on it: its shape, a tensor view (or an IoError), the expectation checks, and writing it back
// out must give the same array.
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "io/npy.hpp"

using namespace moerouter;
using namespace moerouter::io;
using moerouter::fuzz::expect_error_or_success;
using moerouter::fuzz::must_succeed;

namespace {

void use(const NpyArray& a) {
  MOEROUTER_FUZZ_CHECK(a.path == "fuzz.npy", a.path);
  for (int64_t d : a.shape) MOEROUTER_FUZZ_CHECK(d >= 0, a.shape_string());
  const int64_t n = a.numel();
  MOEROUTER_FUZZ_CHECK(n >= 0, a.shape_string());
  MOEROUTER_FUZZ_CHECK(a.data.size() == static_cast<size_t>(n) * itemsize(a.dtype),
                       a.shape_string() + " holds " + std::to_string(a.data.size()) + " bytes");
  (void)a.shape_string();

  // Every byte of the data is readable (ASan checks the reads).
  unsigned sum = 0;
  for (std::byte b : a.data) sum += static_cast<unsigned>(b);
  (void)sum;

  expect_error_or_success("view", [&] {
    NpyArray copy = a;
    const TensorView v = copy.view();
    MOEROUTER_FUZZ_CHECK(v.ndim == static_cast<int>(a.shape.size()), a.shape_string());
    MOEROUTER_FUZZ_CHECK(v.numel() == n, v.shape_string());
    MOEROUTER_FUZZ_CHECK(v.is_contiguous(), v.shape_string());
    MOEROUTER_FUZZ_CHECK(dtype_size(v.dtype) == itemsize(a.dtype), describe(a.dtype));
  });

  // The checks callers make: one that matches, and one that does not.
  std::vector<int64_t> any(a.shape.size(), -1);
  must_succeed("check_npy (matching)", [&] {
    check_npy(a, {"--x", {a.dtype}, a.shape});
    check_npy(a, {"", {}, any});
  });
  const NpyDType other = a.dtype == NpyDType::F32 ? NpyDType::I64 : NpyDType::F32;
  const bool mismatch_reported = !expect_error_or_success("check_npy", [&] {
    check_npy(a, {"--x", {other}, {}});
  });
  MOEROUTER_FUZZ_CHECK(mismatch_reported, "a dtype mismatch passed check_npy");

  // What the writer makes of it reads back as the same array.
  must_succeed("encode_npy round trip", [&] {
    const std::vector<std::byte> image = encode_npy(a.dtype, a.shape, a.data.data());
    const NpyArray back = read_npy_bytes(image.data(), image.size(), a.path);
    MOEROUTER_FUZZ_CHECK(back.dtype == a.dtype && back.shape == a.shape, back.shape_string());
    MOEROUTER_FUZZ_CHECK(back.data == a.data, "round trip changed the data");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  NpyArray a;
  if (expect_error_or_success("read_npy_bytes", [&] { a = read_npy_bytes(data, size, "fuzz.npy"); }))
    use(a);
  return 0;
}
