// Errors: one exception type with a machine-readable code and a message that names the argument,
// the expected value and the actual value.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace moerouter {

enum class ErrorCode {
  InvalidArgument,     // a config field or call argument outside its domain
  ShapeMismatch,       // a tensor's rank or extent differs from what the call needs
  DtypeMismatch,       // a tensor's element type is not one the call accepts
  LayoutUnsupported,   // strides / alignment the backend cannot use
  DeviceMismatch,      // tensors on different devices, or on a device the router does not own
  Unsupported,         // a valid request this backend cannot serve (see Router::supports)
  BackendUnavailable,  // the requested backend was not built or has no device
  NonFiniteInput,      // validate=true found NaN/inf logits
  OutOfMemory,         // host or device allocation failed
  IoError,             // file reading/writing/parsing
  CudaError,           // a CUDA runtime or cuBLAS call failed
  Internal,
};

const char* to_string(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(std::string(to_string(code)) + ": " + message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

namespace detail {
template <class T>
void stream_all(std::ostringstream& os, const T& v) { os << v; }
template <class T, class... Rest>
void stream_all(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  stream_all(os, rest...);
}
}  // namespace detail

// Builds a message from pieces: fail(ErrorCode::ShapeMismatch, "x: expected ", 2, " dims, got ", 3).
template <class... Parts>
[[noreturn]] void fail(ErrorCode code, const Parts&... parts) {
  std::ostringstream os;
  detail::stream_all(os, parts...);
  throw Error(code, os.str());
}

// The common shape of a message: "<argument>: expected <expected>, got <actual>".
template <class Expected, class Actual>
[[noreturn]] void fail_arg(ErrorCode code, const std::string& argument, const Expected& expected,
                           const Actual& actual) {
  fail(code, argument, ": expected ", expected, ", got ", actual);
}

}  // namespace moerouter
