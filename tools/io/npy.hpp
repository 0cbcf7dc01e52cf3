// Strict reader and atomic writer for NumPy .npy files (format versions 1.0, 2.0, 3.0).
//
// Only what the router exchanges is supported: little-endian float32, float64, int32, int64, and
// bfloat16 stored as raw 16-bit patterns ('<u2', or '|V2' / '<V2' as written for ml_dtypes'
// bfloat16), C order. Everything else is an Error(IoError) whose message names the file, what
// was expected and what the file holds, so a user can fix the producer rather than guess.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "moerouter/tensor.hpp"

namespace moerouter::io {

class StagedFiles;

// float64 exists here (golden logits) although the router itself has no float64 tensors.
enum class NpyDType { F32, F64, I32, I64, BF16 };

size_t itemsize(NpyDType t) noexcept;
const char* descr(NpyDType t) noexcept;   // what the writer puts in the header: "<f4", "<u2", ...
std::string describe(NpyDType t);         // for messages: "float32 (<f4)"
NpyDType from_tensor_dtype(DType t) noexcept;

// An owning, C-ordered array read from (or destined for) a .npy file.
struct NpyArray {
  std::string path;  // where it came from; named in every later error message
  NpyDType dtype = NpyDType::F32;
  std::vector<int64_t> shape;
  std::vector<std::byte> data;  // numel() * itemsize(dtype) bytes

  int64_t numel() const;
  std::string shape_string() const;  // "[4096, 7168]", as TensorView writes it
  // A host view of `data` (rank <= 4). Throws IoError for float64, which TensorView has no
  // dtype for.
  TensorView view();
  template <class T> T* as() { return reinterpret_cast<T*>(data.data()); }
  template <class T> const T* as() const { return reinterpret_cast<const T*>(data.data()); }
};

// What a caller needs from a file. Empty dtypes = any; empty shape = any shape; otherwise the
// rank must equal shape.size() and each extent must match, -1 meaning "any extent".
struct NpyExpect {
  std::string what;               // the argument's name, e.g. "x" or "--weight"
  std::vector<NpyDType> dtypes;
  std::vector<int64_t> shape;
};

// Parses the whole file. Throws Error(IoError) for: a file that cannot be opened, bad magic,
// unsupported version, header length past end of file, a malformed header dict, an unsupported
// dtype, fortran_order True, a bad shape, data shorter (truncated) or longer (trailing bytes)
// than the shape says.
NpyArray read_npy(const std::string& path);
// The same parser over a whole file image already in memory (`size` bytes at `data`, which may
// be null when size is 0). `name` stands for the path in NpyArray::path and in every message.
// read_npy is this plus reading the file (the data part straight into the array, not twice).
NpyArray read_npy_bytes(const void* data, size_t size, const std::string& name);
// read_npy, then the dtype and shape checks of `expect`.
NpyArray read_npy(const std::string& path, const NpyExpect& expect);
// Just the checks of `expect`, for arrays already read.
void check_npy(const NpyArray& array, const NpyExpect& expect);

// One file to write. `data` holds product(shape) elements of `dtype`, C order.
struct NpyOutput {
  std::string path;
  NpyDType dtype = NpyDType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
};

// The complete file image (preamble, padded header, data). Version 1.0 unless the header needs
// more than 65535 bytes, then 2.0.
std::vector<std::byte> encode_npy(NpyDType dtype, const std::vector<int64_t>& shape,
                                  const void* data);

// Adds one .npy file to a set written together (io/atomic_file.hpp): it goes to its temporary at
// once, straight from `out.data` (no copy of the array), and into place at files.commit().
void stage_npy(StagedFiles& files, const NpyOutput& out);

// Atomic writes: each file goes to a temporary beside its destination and is renamed into place
// only when complete, so a failed run never leaves a partial (or half-updated) output behind.
void write_npy(const NpyOutput& out);
void write_npy(const std::string& path, const TensorView& host_contiguous_view);
// All or nothing as far as the file system allows: every file is written to its temporary
// first; only when all succeeded are they renamed into place.
void write_npy_all(const std::vector<NpyOutput>& outputs);

}  // namespace moerouter::io
