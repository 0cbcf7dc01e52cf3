// read_npy: preamble, header, then exactly the data the shape promises.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "io/npy.hpp"
#include "io/npy_header.hpp"
#include "moerouter/error.hpp"

namespace moerouter::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

std::string hex_bytes(const char* p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(p[i]);
    s += (i ? " " : "");
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s.empty() ? "an empty file" : s;
}

NpyDType dtype_from_descr(const std::string& d, const std::string& label) {
  if (d == "<f4") return NpyDType::F32;
  if (d == "<f8") return NpyDType::F64;
  if (d == "<i4") return NpyDType::I32;
  if (d == "<i8") return NpyDType::I64;
  // bfloat16 has no NumPy dtype: raw bits are saved as uint16, or as a 2-byte void by ml_dtypes.
  if (d == "<u2" || d == "|V2" || d == "<V2") return NpyDType::BF16;
  std::string hint;
  if (!d.empty() && d[0] == '>') hint = " (big-endian data: save with a.astype(a.dtype.newbyteorder('<')))";
  fail(ErrorCode::IoError, label, ": dtype: expected one of <f4, <f8, <i4, <i8, <u2 or |V2 ",
       "(bfloat16 bits), got '", d, "'", hint);
}

// Where the bytes come from: a file read piece by piece (a multi-gigabyte array is read once,
// straight into the array) or a buffer already in memory. The parser below is the same for both.
class Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // Copies exactly `n` bytes at `offset` (inside size(), checked by the caller) into `dst`.
  virtual void preamble(char* dst, size_t n) = 0;
  virtual void header(uint64_t offset, char* dst, size_t n) = 0;
  virtual void data(uint64_t offset, std::byte* dst, size_t n) = 0;
};

class FileSource final : public Source {
 public:
  FileSource(const std::string& path, const std::string& label) : label_(label) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      fail(ErrorCode::IoError, "cannot read ", label, ": expected a .npy file, got a directory");
    in_.open(path, std::ios::binary);
    if (!in_) fail(ErrorCode::IoError, "cannot open ", label, ": ", std::strerror(errno));
    // The size up front lets truncation be told apart from a bad header before allocating.
    in_.seekg(0, std::ios::end);
    const std::streamoff end = in_.tellg();
    if (end < 0)
      fail(ErrorCode::IoError, "cannot read ", label, ": expected a regular, seekable file, got ",
           "one whose size cannot be determined (a pipe?)");
    size_ = static_cast<uint64_t>(end);
  }
  uint64_t size() const override { return size_; }
  void preamble(char* dst, size_t n) override {
    if (!read_at(0, dst, n)) fail(ErrorCode::IoError, "cannot read ", label_, ": ", std::strerror(errno));
  }
  void header(uint64_t offset, char* dst, size_t n) override {
    if (!read_at(offset, dst, n))
      fail(ErrorCode::IoError, "cannot read the header of ", label_, ": ", std::strerror(errno));
  }
  void data(uint64_t offset, std::byte* dst, size_t n) override {
    if (!read_at(offset, reinterpret_cast<char*>(dst), n))
      fail(ErrorCode::IoError, "cannot read the data of ", label_, ": expected ", n, " bytes, got ",
           in_.gcount());
  }

 private:
  bool read_at(uint64_t offset, char* dst, size_t n) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset), std::ios::beg);
    in_.read(dst, static_cast<std::streamsize>(n));
    return static_cast<size_t>(in_.gcount()) == n;
  }
  std::ifstream in_;
  uint64_t size_ = 0;
  const std::string& label_;
};

class MemorySource final : public Source {
 public:
  MemorySource(const void* data, size_t size) : p_(static_cast<const char*>(data)), size_(size) {}
  uint64_t size() const override { return size_; }
  void preamble(char* dst, size_t n) override { copy(0, dst, n); }
  void header(uint64_t offset, char* dst, size_t n) override { copy(offset, dst, n); }
  void data(uint64_t offset, std::byte* dst, size_t n) override { copy(offset, dst, n); }

 private:
  void copy(uint64_t offset, void* dst, size_t n) const {
    if (n) std::memcpy(dst, p_ + offset, n);
  }
  const char* p_;
  size_t size_;
};

// `label` names the file in every message: "'x.npy'", or "--x 'x.npy'" when the caller said
// which argument the file is.
NpyArray parse_npy(Source& src, const std::string& path, const std::string& label) {
  const uint64_t file_size = src.size();

  char pre[12] = {};
  const size_t have = static_cast<size_t>(std::min<uint64_t>(file_size, sizeof pre));
  src.preamble(pre, have);

  // Magic first: a short file that is not .npy at all should be called that, not "truncated".
  const size_t magic_have = std::min(have, kMagicLen);
  if (have < kMagicLen || std::memcmp(pre, kMagic, kMagicLen) != 0)
    fail(ErrorCode::IoError, label, ": bad magic: expected 93 4e 55 4d 50 59 (\\x93NUMPY), got ",
         hex_bytes(pre, magic_have), " (not a .npy file)");
  if (have < 8)
    fail(ErrorCode::IoError, label, ": truncated header: expected at least 10 bytes of ",
         "preamble, got ", file_size);
  const int major = static_cast<unsigned char>(pre[6]);
  const int minor = static_cast<unsigned char>(pre[7]);
  if (minor != 0 || major < 1 || major > 3)
    fail(ErrorCode::IoError, label, ": unsupported .npy version: expected 1.0, 2.0 or 3.0, got ",
         major, ".", minor);
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t preamble = 8 + len_bytes;
  if (file_size < preamble)
    fail(ErrorCode::IoError, label, ": truncated header: expected at least ", preamble,
         " bytes of preamble for version ", major, ".0, got ", file_size);
  uint64_t header_len = 0;
  for (size_t i = 0; i < len_bytes; ++i)
    header_len |= static_cast<uint64_t>(static_cast<unsigned char>(pre[8 + i])) << (8 * i);
  if (preamble + header_len > file_size)
    fail(ErrorCode::IoError, label, ": header length past end of file: the preamble declares ",
         header_len, " header bytes after offset ", preamble, ", the file has ", file_size,
         " bytes in all (truncated header)");

  std::string text(header_len, '\0');
  src.header(preamble, text.data(), static_cast<size_t>(header_len));
  const detail::NpyHeader h = detail::parse_header(text, label);

  NpyArray a;
  a.path = path;
  a.dtype = dtype_from_descr(h.descr, label);
  if (h.fortran_order)
    fail(ErrorCode::IoError, label, ": fortran_order: expected False (C order; save ",
         "np.ascontiguousarray(a)), got True");
  a.shape = h.shape;

  // Bytes the shape needs. A header promising more than 2^64 bytes is reported as truncated
  // data instead of overflowing (or allocating wildly).
  const uint64_t data_have = file_size - preamble - header_len;
  uint64_t need = itemsize(a.dtype);
  bool beyond = false;
  for (int64_t d : a.shape) {
    const auto ud = static_cast<uint64_t>(d);
    if (ud == 0) {
      need = 0;
      beyond = false;
      break;
    }
    if (need > std::numeric_limits<uint64_t>::max() / ud) beyond = true;
    else need *= ud;
  }
  if (beyond || need > data_have)
    fail(ErrorCode::IoError, label, ": truncated data: shape ", a.shape_string(), " of ",
         describe(a.dtype), " needs ", beyond ? std::string("more than 2^64") : std::to_string(need),
         " bytes, got ", data_have, " after the header");
  if (need < data_have)
    fail(ErrorCode::IoError, label, ": trailing data: shape ", a.shape_string(), " of ",
         describe(a.dtype), " needs ", need, " bytes, got ", data_have, " after the header (",
         data_have - need, " extra)");

  // An empty array may still list huge extents ((2^32, 2^32, 0) fits in 0 bytes), but numel()
  // and a view's strides multiply them in int64: the nonzero extents' product must fit.
  int64_t nonzero = 1;
  for (int64_t d : a.shape)
    if (d != 0 && __builtin_mul_overflow(nonzero, d, &nonzero))
      fail(ErrorCode::IoError, label, ": shape ", a.shape_string(), ": expected extents whose ",
           "product (zeros left out) fits in int64, got a larger product");

  a.data.resize(static_cast<size_t>(need));
  if (need) src.data(preamble + header_len, a.data.data(), static_cast<size_t>(need));
  return a;
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  const std::string label = "'" + path + "'";
  FileSource src(path, label);
  return parse_npy(src, path, label);
}

NpyArray read_npy_bytes(const void* data, size_t size, const std::string& name) {
  MemorySource src(data, size);
  return parse_npy(src, name, "'" + name + "'");
}

NpyArray read_npy(const std::string& path, const NpyExpect& expect) {
  const std::string label =
      expect.what.empty() ? "'" + path + "'" : expect.what + " '" + path + "'";
  FileSource src(path, label);
  NpyArray a = parse_npy(src, path, label);
  check_npy(a, expect);
  return a;
}

}  // namespace moerouter::io
