// The .npy header dictionary: parsing (strict subset of Python literal syntax that NumPy writes)
// and formatting. Internal to moerouter_io.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace moerouter::io::detail {

struct NpyHeader {
  std::string descr;         // as written, e.g. "<f4"
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// Parses "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" followed only by
// whitespace. Exactly these three keys, each once. Throws Error(IoError) starting with `label`
// (the file's name) and naming the first thing that is wrong.
NpyHeader parse_header(const std::string& text, const std::string& label);

// The dictionary as NumPy writes it, without padding or the final newline.
std::string format_header(const std::string& descr, const std::vector<int64_t>& shape);

}  // namespace moerouter::io::detail
