#include "io/npy_header.hpp"

#include <limits>

#include "moerouter/error.hpp"

namespace moerouter::io::detail {

namespace {

// A recursive-descent reader over the header text. Only the literal forms NumPy emits are
// accepted: quoted strings without escapes, True/False, and tuples of non-negative integers
// (a trailing 'L' is tolerated: NumPy under Python 2 wrote "(3L, 4L)").
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& label) : s_(text), label_(label) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    skip_ws();
    expect('{', "'{' opening the header dict");
    skip_ws();
    while (peek() != '}') {
      const size_t key_at = pos_;
      const std::string key = string_literal("a quoted key");
      skip_ws();
      expect(':', "':' after key '" + key + "'");
      skip_ws();
      if (key == "descr") {
        once(have_descr, key, key_at);
        if (peek() == '[')
          error("'descr': expected a simple dtype string such as '<f4', got a structured dtype");
        h.descr = string_literal("a dtype string for 'descr'");
      } else if (key == "fortran_order") {
        once(have_order, key, key_at);
        h.fortran_order = boolean("True or False for 'fortran_order'");
      } else if (key == "shape") {
        once(have_shape, key, key_at);
        h.shape = int_tuple();
      } else {
        error("header dict: expected only the keys 'descr', 'fortran_order', 'shape', got '" +
              key + "'");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
      } else if (peek() != '}') {
        error(std::string("header dict: expected ',' or '}' at offset ") + std::to_string(pos_) +
              ", got " + shown(peek()));
      }
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != s_.size())
      error("header: expected only padding after the dict, got " + shown(s_[pos_]) +
            " at offset " + std::to_string(pos_));
    if (!have_descr || !have_order || !have_shape)
      error(std::string("header dict: expected keys 'descr', 'fortran_order', 'shape', missing ") +
            (!have_descr ? "'descr'" : !have_order ? "'fortran_order'" : "'shape'"));
    return h;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(ErrorCode::IoError, label_, ": malformed .npy header: ", what);
  }

  static std::string shown(int c) {
    if (c < 0) return "end of header";
    if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
    return "byte " + std::to_string(c);
  }

  int peek() const { return pos_ < s_.size() ? static_cast<unsigned char>(s_[pos_]) : -1; }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                s_[pos_] == '\r'))
      ++pos_;
  }

  void expect(char c, const std::string& what) {
    if (peek() != static_cast<unsigned char>(c))
      error("expected " + what + " at offset " + std::to_string(pos_) + ", got " + shown(peek()));
    ++pos_;
  }

  void once(bool& seen, const std::string& key, size_t at) {
    if (seen) error("header dict: key '" + key + "' repeated at offset " + std::to_string(at));
    seen = true;
  }

  std::string string_literal(const std::string& what) {
    const int q = peek();
    if (q != '\'' && q != '"')
      error("expected " + what + " at offset " + std::to_string(pos_) + ", got " + shown(q));
    const size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\' || s_[pos_] == '\n')
        error("expected " + what + " without escapes or line breaks, got " + shown(peek()) +
              " at offset " + std::to_string(pos_));
      ++pos_;
    }
    if (pos_ >= s_.size()) error("expected " + what + ", got an unterminated string");
    return s_.substr(start, pos_++ - start);
  }

  bool boolean(const std::string& what) {
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    error("expected " + what + " at offset " + std::to_string(pos_) + ", got " + shown(peek()));
  }

  int64_t dimension() {
    if (peek() == '-') error("'shape': expected non-negative extents, got a negative one");
    if (peek() < '0' || peek() > '9')
      error("'shape': expected an integer extent at offset " + std::to_string(pos_) + ", got " +
            shown(peek()));
    int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int d = peek() - '0';
      if (v > (std::numeric_limits<int64_t>::max() - d) / 10)
        error("'shape': expected extents that fit in int64, got a larger one");
      v = v * 10 + d;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;
    return v;
  }

  // "()", "(n,)", "(n, m)", "(n, m,)". A lone "(n)" is an int in Python, not a tuple.
  std::vector<int64_t> int_tuple() {
    expect('(', "a tuple for 'shape'");
    std::vector<int64_t> dims;
    bool trailing_comma = false;
    skip_ws();
    while (peek() != ')') {
      dims.push_back(dimension());
      skip_ws();
      trailing_comma = false;
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
        skip_ws();
      } else if (peek() != ')') {
        error("'shape': expected ',' or ')' at offset " + std::to_string(pos_) + ", got " +
              shown(peek()));
      }
    }
    ++pos_;
    if (dims.size() == 1 && !trailing_comma)
      error("'shape': expected a tuple such as (" + std::to_string(dims[0]) + ",), got (" +
            std::to_string(dims[0]) + ")");
    return dims;
  }

  const std::string& s_;
  const std::string& label_;
  size_t pos_ = 0;
};

}  // namespace

NpyHeader parse_header(const std::string& text, const std::string& label) {
  return HeaderParser(text, label).parse();
}

std::string format_header(const std::string& descr, const std::vector<int64_t>& shape) {
  std::string s = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  s += "), }";
  return s;
}

}  // namespace moerouter::io::detail
