#include "moerouter/error.hpp"

namespace moerouter {

const char* to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return "invalid_argument";
    case ErrorCode::ShapeMismatch: return "shape_mismatch";
    case ErrorCode::DtypeMismatch: return "dtype_mismatch";
    case ErrorCode::LayoutUnsupported: return "layout_unsupported";
    case ErrorCode::DeviceMismatch: return "device_mismatch";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::BackendUnavailable: return "backend_unavailable";
    case ErrorCode::NonFiniteInput: return "non_finite_input";
    case ErrorCode::OutOfMemory: return "out_of_memory";
    case ErrorCode::IoError: return "io_error";
    case ErrorCode::CudaError: return "cuda_error";
    case ErrorCode::Internal: return "internal";
  }
  return "unknown";
}

}  // namespace moerouter
