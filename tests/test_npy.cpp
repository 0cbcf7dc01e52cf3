// moerouter_io: the .npy reader and writer. Round trips, files NumPy itself wrote (tests/data/npy,
// made by tests/data/make_npy_fixtures.py), hand-built headers of every version, and each kind
// of malformed file, which must be an IoError whose message names the problem.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "io/npy.hpp"
#include "moerouter/error.hpp"
#include "support/temp_dir.hpp"
#include "support/catch.hpp"

namespace fs = std::filesystem;
using moerouter::DType;
using moerouter::Error;
using moerouter::ErrorCode;
using namespace moerouter::io;

namespace {

// A fresh directory per test case (tests/support/temp_dir.hpp), named after this file.
struct TempDir : moerouter::testing::TempDir {
  TempDir() : moerouter::testing::TempDir("test_npy") {}
};

std::string fixture(const std::string& name) {
  return std::string(MOEROUTER_TEST_DATA_DIR) + "/npy/" + name;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// A .npy file built by hand: version major.minor, the dict text, padding to 64 with '\n' last
// (unless pad is false), then the raw data bytes.
std::string npy_bytes(int major, int minor, const std::string& dict, const std::string& data,
                      bool pad = true) {
  const size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  if (pad) {
    const size_t total = (preamble + header.size() + 1 + 63) / 64 * 64;
    header += std::string(total - preamble - header.size() - 1, ' ') + "\n";
  }
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += static_cast<char>(minor);
  for (size_t i = 0; i < preamble - 8; ++i) s += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return s + header + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::string dict(const std::string& descr, const std::string& shape, const char* order = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }";
}

// Runs f, which must throw Error(IoError) with every one of `needles` in its message.
template <class F>
void require_io_error(F&& f, std::initializer_list<const char*> needles) {
  try {
    f();
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(e.code() == ErrorCode::IoError);
    for (const char* n : needles) CHECK(std::string(e.what()).find(n) != std::string::npos);
    return;
  }
  FAIL("expected Error(IoError) mentioning " << *needles.begin());
}

const std::vector<float> kMatrix = {-1.25f, -0.75f, -0.25f, 0.25f, 0.75f, 1.25f};

}  // namespace

TEST_CASE("npy round trip of every dtype", "[npy]") {
  TempDir dir;
  SECTION("float32 [2, 3]") {
    write_npy({dir.file("a.npy"), NpyDType::F32, {2, 3}, kMatrix.data()});
    NpyArray a = read_npy(dir.file("a.npy"));
    CHECK(a.dtype == NpyDType::F32);
    CHECK(a.shape == std::vector<int64_t>{2, 3});
    CHECK(std::memcmp(a.as<float>(), kMatrix.data(), 24) == 0);
    CHECK(a.path == dir.file("a.npy"));
  }
  SECTION("float64 [3]") {
    const std::vector<double> v = {1.0, -2.5, 1e300};
    write_npy({dir.file("a.npy"), NpyDType::F64, {3}, v.data()});
    NpyArray a = read_npy(dir.file("a.npy"));
    CHECK(a.dtype == NpyDType::F64);
    CHECK(a.shape == std::vector<int64_t>{3});
    CHECK(std::memcmp(a.as<double>(), v.data(), 24) == 0);
  }
  SECTION("int32 and int64") {
    const std::vector<int32_t> i4 = {1, -2, INT32_MAX, INT32_MIN};
    const std::vector<int64_t> i8 = {1, -1, int64_t{1} << 40};
    write_npy({dir.file("i4.npy"), NpyDType::I32, {2, 2}, i4.data()});
    write_npy({dir.file("i8.npy"), NpyDType::I64, {3}, i8.data()});
    NpyArray a = read_npy(dir.file("i4.npy"));
    NpyArray b = read_npy(dir.file("i8.npy"));
    CHECK(a.dtype == NpyDType::I32);
    CHECK(b.dtype == NpyDType::I64);
    CHECK(std::memcmp(a.as<int32_t>(), i4.data(), 16) == 0);
    CHECK(std::memcmp(b.as<int64_t>(), i8.data(), 24) == 0);
  }
  SECTION("bfloat16 is written as <u2 raw bits") {
    const std::vector<uint16_t> bits = {0x3f80, 0xc000, 0x3f00, 0x4040};
    write_npy({dir.file("b.npy"), NpyDType::BF16, {4}, bits.data()});
    CHECK(read_bytes(dir.file("b.npy")).find("'descr': '<u2'") != std::string::npos);
    NpyArray a = read_npy(dir.file("b.npy"));
    CHECK(a.dtype == NpyDType::BF16);
    CHECK(std::memcmp(a.as<uint16_t>(), bits.data(), 8) == 0);
  }
  SECTION("scalar and zero-size shapes") {
    const float s = 3.5f;
    write_npy({dir.file("s.npy"), NpyDType::F32, {}, &s});
    write_npy({dir.file("z.npy"), NpyDType::F32, {0, 4}, nullptr});
    NpyArray a = read_npy(dir.file("s.npy"));
    NpyArray z = read_npy(dir.file("z.npy"));
    CHECK(a.shape.empty());
    CHECK(a.as<float>()[0] == 3.5f);
    CHECK(z.shape == std::vector<int64_t>{0, 4});
    CHECK(z.data.empty());
  }
  SECTION("a header too long for version 1.0 is written as 2.0") {
    const std::vector<int64_t> shape(25000, 1);  // "1, " x 25000 > 65535 header bytes
    const float one = 1.0f;
    write_npy({dir.file("long.npy"), NpyDType::F32, shape, &one});
    CHECK(read_bytes(dir.file("long.npy"))[6] == '\x02');
    NpyArray a = read_npy(dir.file("long.npy"));
    CHECK(a.shape == shape);
    CHECK(a.as<float>()[0] == 1.0f);
  }
  SECTION("from a TensorView") {
    write_npy(dir.file("v.npy"), moerouter::TensorView::matrix(kMatrix.data(), 3, 2));
    NpyArray a = read_npy(dir.file("v.npy"));
    CHECK(a.shape == std::vector<int64_t>{3, 2});
  }
}

TEST_CASE("npy writer matches NumPy's layout", "[npy]") {
  // Byte-for-byte the file NumPy writes for the same array (version 1.0, 64-byte aligned data).
  const auto ours = encode_npy(NpyDType::F32, {2, 3}, kMatrix.data());
  const std::string numpy = read_bytes(fixture("f32_2x3_v1.npy"));
  REQUIRE(ours.size() == numpy.size());
  CHECK(std::memcmp(ours.data(), numpy.data(), numpy.size()) == 0);
  CHECK((ours.size() - 24) % 64 == 0);
}

TEST_CASE("npy reads files NumPy wrote", "[npy]") {
  SECTION("versions 1.0, 2.0 and 3.0") {
    for (const char* name : {"f32_2x3_v1.npy", "f32_2x3_v2.npy", "f32_2x3_v3.npy"}) {
      INFO(name);
      NpyArray a = read_npy(fixture(name));
      CHECK(a.dtype == NpyDType::F32);
      CHECK(a.shape == std::vector<int64_t>{2, 3});
      CHECK(std::memcmp(a.as<float>(), kMatrix.data(), 24) == 0);
    }
  }
  SECTION("float64, int32, int64, scalar, empty") {
    CHECK(read_npy(fixture("f64_3.npy")).as<double>()[2] == 1e300);
    CHECK(read_npy(fixture("i4_2x2.npy")).as<int32_t>()[3] == INT32_MIN);
    CHECK(read_npy(fixture("i8_3.npy")).as<int64_t>()[2] == (int64_t{1} << 40));
    CHECK(read_npy(fixture("f32_scalar.npy")).shape.empty());
    CHECK(read_npy(fixture("f32_0x4.npy")).numel() == 0);
  }
  SECTION("bfloat16 as <u2 and as |V2") {
    for (const char* name : {"bf16_u2_4.npy", "bf16_v2_4.npy"}) {
      INFO(name);
      NpyArray a = read_npy(fixture(name));
      CHECK(a.dtype == NpyDType::BF16);
      REQUIRE(a.numel() == 4);
      CHECK(moerouter::bf16_to_float(a.as<uint16_t>()[0]) == 1.0f);
      CHECK(moerouter::bf16_to_float(a.as<uint16_t>()[3]) == 3.0f);
      CHECK(a.view().dtype == DType::BF16);
    }
  }
}

TEST_CASE("npy hand-written headers of every version", "[npy]") {
  TempDir dir;
  const std::string data = raw(kMatrix);
  for (int major : {1, 2, 3}) {
    INFO("version " << major << ".0");
    const std::string p = dir.file("v" + std::to_string(major) + ".npy");
    write_bytes(p, npy_bytes(major, 0, dict("<f4", "(2, 3)"), data));
    NpyArray a = read_npy(p);
    CHECK(a.shape == std::vector<int64_t>{2, 3});
    CHECK(std::memcmp(a.as<float>(), kMatrix.data(), 24) == 0);
  }
  SECTION("double quotes, key order, no trailing comma, unpadded, Python 2 longs") {
    write_bytes(dir.file("a.npy"),
                npy_bytes(1, 0, "{\"shape\": (2L, 3L), \"fortran_order\": False, \"descr\": \"<f4\"}",
                          data, false));
    CHECK(read_npy(dir.file("a.npy")).shape == std::vector<int64_t>{2, 3});
  }
  SECTION("|V2 and <V2 are bfloat16") {
    const std::vector<uint16_t> bits = {0x3f80, 0x4000};
    write_bytes(dir.file("v.npy"), npy_bytes(1, 0, dict("|V2", "(2,)"), raw(bits)));
    write_bytes(dir.file("l.npy"), npy_bytes(3, 0, dict("<V2", "(2,)"), raw(bits)));
    CHECK(read_npy(dir.file("v.npy")).dtype == NpyDType::BF16);
    CHECK(read_npy(dir.file("l.npy")).dtype == NpyDType::BF16);
  }
}

TEST_CASE("npy views", "[npy]") {
  NpyArray a = read_npy(fixture("f32_2x3_v1.npy"));
  const moerouter::TensorView v = a.view();
  CHECK(v.dtype == DType::F32);
  CHECK(v.ndim == 2);
  CHECK(v.shape[0] == 2);
  CHECK(v.shape[1] == 3);
  CHECK(v.strides[0] == 3);
  CHECK(v.is_contiguous());
  CHECK(v.ptr<float>()[5] == 1.25f);
  NpyArray d = read_npy(fixture("f64_3.npy"));
  require_io_error([&] { d.view(); }, {"f64_3.npy", "float64"});
}

TEST_CASE("npy rejects malformed files", "[npy]") {
  TempDir dir;
  const std::string p = dir.file("bad.npy");
  const std::string data = raw(kMatrix);

  SECTION("missing file") {
    require_io_error([&] { read_npy(dir.file("nope.npy")); }, {"nope.npy", "cannot open"});
  }
  SECTION("a directory") {
    require_io_error([&] { read_npy(dir.path.string()); }, {"directory"});
  }
  SECTION("bad magic") {
    write_bytes(p, "PK\x03\x04 this is a zip file, not an array");
    require_io_error([&] { read_npy(p); }, {"bad.npy", "bad magic", "50 4b 03 04"});
  }
  SECTION("empty file") {
    write_bytes(p, "");
    require_io_error([&] { read_npy(p); }, {"bad magic", "empty file"});
  }
  SECTION("truncated preamble") {
    write_bytes(p, std::string("\x93NUMPY\x01", 7));
    require_io_error([&] { read_npy(p); }, {"truncated header"});
    write_bytes(p, std::string("\x93NUMPY\x02\x00\x10\x00", 10));
    require_io_error([&] { read_npy(p); }, {"truncated header", "12"});
  }
  SECTION("header length past end of file") {
    std::string bytes = npy_bytes(1, 0, dict("<f4", "(2, 3)"), "");
    bytes[8] = '\xff';
    bytes[9] = '\x7f';  // claims 32767 header bytes
    write_bytes(p, bytes);
    require_io_error([&] { read_npy(p); }, {"header length past end of file", "32767"});
  }
  SECTION("truncated header text") {
    const std::string full = npy_bytes(1, 0, dict("<f4", "(2, 3)"), "");
    write_bytes(p, full.substr(0, 40));
    require_io_error([&] { read_npy(p); }, {"past end of file"});
  }
  SECTION("unsupported version") {
    write_bytes(p, npy_bytes(3, 0, dict("<f4", "(2, 3)"), data));
    std::string bytes = read_bytes(p);
    bytes[6] = '\x04';
    write_bytes(p, bytes);
    require_io_error([&] { read_npy(p); }, {"unsupported .npy version", "4.0"});
    bytes[6] = '\x01';
    bytes[7] = '\x01';
    write_bytes(p, bytes);
    require_io_error([&] { read_npy(p); }, {"unsupported .npy version", "1.1"});
  }
  SECTION("truncated data") {
    write_bytes(p, npy_bytes(1, 0, dict("<f4", "(2, 3)"), data.substr(0, 20)));
    require_io_error([&] { read_npy(p); }, {"truncated data", "[2, 3]", "24 bytes", "got 20"});
  }
  SECTION("trailing garbage") {
    write_bytes(p, npy_bytes(1, 0, dict("<f4", "(2, 3)"), data + "junk"));
    require_io_error([&] { read_npy(p); }, {"trailing data", "4 extra"});
  }
  SECTION("a shape far larger than the file") {
    write_bytes(p, npy_bytes(1, 0, dict("<f4", "(4611686018427387904, 8)"), data));
    require_io_error([&] { read_npy(p); }, {"truncated data", "2^64"});
  }
  SECTION("an empty array whose other extents overflow int64") {
    // (2^32, 2^32, 0) holds 0 bytes, but numel() and a view's strides multiplied the extents.
    write_bytes(p, npy_bytes(1, 0, dict("<f4", "(4294967296, 4294967296, 0)"), ""));
    require_io_error([&] { read_npy(p); }, {"bad.npy", "[4294967296, 4294967296, 0]", "fits in int64"});
    write_bytes(p, npy_bytes(1, 0, dict("<f4", "(0, 3037000500, 3037000500)"), ""));
    require_io_error([&] { read_npy(p); }, {"fits in int64"});
    write_bytes(p, npy_bytes(1, 0, dict("<f4", "(0, 3037000499, 3037000499)"), ""));
    CHECK(read_npy(p).numel() == 0);
  }
  SECTION("fortran order (NumPy's own file, and by hand)") {
    require_io_error([&] { read_npy(fixture("f32_2x3_fortran.npy")); }, {"fortran_order", "C order"});
    write_bytes(p, npy_bytes(1, 0, dict("<f4", "(6,)", "True"), data));
    require_io_error([&] { read_npy(p); }, {"fortran_order"});
  }
  SECTION("unsupported dtypes") {
    require_io_error([&] { read_npy(fixture("f32_big_endian.npy")); }, {"'>f4'", "big-endian"});
    require_io_error([&] { read_npy(fixture("u1_3.npy")); }, {"'|u1'", "<f4"});
    write_bytes(p, npy_bytes(1, 0, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", data));
    require_io_error([&] { read_npy(p); }, {"structured"});
  }
  SECTION("bad shape strings") {
    for (const char* shape : {"(2, -3)", "(2, 3", "(6)", "[2, 3]", "(2, x)", "2, 3", "(2,, 3)",
                              "(99999999999999999999,)"}) {
      INFO(shape);
      write_bytes(p, npy_bytes(1, 0, dict("<f4", shape), data));
      require_io_error([&] { read_npy(p); }, {"malformed .npy header", "shape"});
    }
  }
  SECTION("bad dicts") {
    for (const std::string& d :
         {std::string("{'descr': '<f4', 'fortran_order': False}"),
          std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}"),
          std::string("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}"),
          std::string("{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}"),
          std::string("{'descr': '<f4', 'fortran_order': false, 'shape': (6,)}"),
          std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} trailing"),
          std::string("'descr': '<f4', 'fortran_order': False, 'shape': (6,)"),
          std::string("{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}")}) {
      INFO(d);
      write_bytes(p, npy_bytes(1, 0, d, data));
      require_io_error([&] { read_npy(p); }, {"malformed .npy header", "bad.npy"});
    }
  }
}

TEST_CASE("npy from memory: the same parser as the file reader", "[npy]") {
  for (const char* name : {"f32_2x3_v1.npy", "f64_3.npy", "i4_2x2.npy", "f32_scalar.npy", "f32_0x4.npy"}) {
    INFO(name);
    const std::string bytes = read_bytes(fixture(name));
    const NpyArray from_file = read_npy(fixture(name));
    const NpyArray from_memory = read_npy_bytes(bytes.data(), bytes.size(), "mem.npy");
    CHECK(from_memory.path == "mem.npy");
    CHECK(from_memory.dtype == from_file.dtype);
    CHECK(from_memory.shape == from_file.shape);
    CHECK(from_memory.data == from_file.data);
  }
  const std::string good = npy_bytes(1, 0, dict("<f4", "(2, 3)"), raw(kMatrix));
  require_io_error([&] { read_npy_bytes(nullptr, 0, "mem.npy"); }, {"'mem.npy'", "bad magic", "empty"});
  require_io_error([&] { read_npy_bytes(good.data(), good.size() - 1, "mem.npy"); },
                   {"'mem.npy'", "truncated data"});
  require_io_error([&] { read_npy_bytes(good.data(), 11, "mem.npy"); }, {"header length past end of file"});
}

TEST_CASE("npy expectations name the file, the expected and the actual", "[npy]") {
  const std::string f = fixture("i4_2x2.npy");
  require_io_error([&] { read_npy(f, {"--x", {NpyDType::F32, NpyDType::BF16}, {}}); },
                   {"--x", "i4_2x2.npy", "dtype", "float32 (<f4) or bfloat16", "got int32 (<i4)"});
  require_io_error([&] { read_npy(f, {"--x", {}, {-1, 8}}); },
                   {"--x", "i4_2x2.npy", "shape", "expected [*, 8]", "got [2, 2]"});
  require_io_error([&] { read_npy(f, {"--x", {}, {4}}); }, {"expected [4]", "got [2, 2]"});
  CHECK_NOTHROW(read_npy(f, {"--ids", {NpyDType::I32, NpyDType::I64}, {2, -1}}));
  // Errors of the file itself name the argument too.
  require_io_error([&] { read_npy(fixture("nope.npy"), {"--x", {}, {}}); },
                   {"cannot open --x '", "nope.npy'"});
  require_io_error([&] { read_npy(fixture("f32_2x3_fortran.npy"), {"--weight", {}, {}}); },
                   {"--weight '", "fortran_order"});
}

TEST_CASE("npy writes are atomic", "[npy]") {
  TempDir dir;
  SECTION("a missing directory fails and leaves nothing") {
    const std::string p = dir.file("missing/out.npy");
    require_io_error([&] { write_npy({p, NpyDType::F32, {6}, kMatrix.data()}); }, {"missing/out.npy"});
    CHECK_FALSE(fs::exists(dir.path / "missing"));
  }
  SECTION("an existing file is replaced whole") {
    const std::string p = dir.file("out.npy");
    write_bytes(p, "old contents");
    write_npy({p, NpyDType::F32, {2, 3}, kMatrix.data()});
    CHECK(read_npy(p).shape == std::vector<int64_t>{2, 3});
    CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  }
  SECTION("write_npy_all writes none when one fails") {
    const std::string good = dir.file("good.npy");
    const std::string bad = dir.file("no/such/dir/bad.npy");
    require_io_error([&] {
      write_npy_all({{good, NpyDType::F32, {6}, kMatrix.data()}, {bad, NpyDType::F32, {6}, kMatrix.data()}});
    }, {"bad.npy"});
    CHECK_FALSE(fs::exists(good));
    CHECK(fs::is_empty(dir.path));  // no temporaries left either
  }
  SECTION("a directory as the output path") {
    fs::create_directories(dir.path / "d.npy");
    require_io_error([&] { write_npy({dir.file("d.npy"), NpyDType::F32, {6}, kMatrix.data()}); },
                     {"d.npy", "directory"});
  }
  SECTION("duplicate output paths") {
    const std::string p = dir.file("same.npy");
    CHECK_THROWS_AS(write_npy_all({{p, NpyDType::F32, {6}, kMatrix.data()},
                                   {p, NpyDType::F32, {6}, kMatrix.data()}}),
                    Error);
    CHECK_FALSE(fs::exists(p));
  }
}
