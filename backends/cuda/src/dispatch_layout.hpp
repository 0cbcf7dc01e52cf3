// Dispatch layout kernels (dispatch_layout.cu).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace moerouter::cuda::detail {

// ids [slots] in [0, E) on the device. scratch: E + 1 int64 of workspace. offsets_out [E + 1] and
// slots_out [slots] may each be null; dtypes int32 or int64 as flagged. Asynchronous on `stream`.
void dispatch_layout(const int32_t* ids, int64_t slots, int64_t experts, int64_t* scratch,
                     void* offsets_out, bool offsets_i64, void* slots_out, bool slots_i64,
                     cudaStream_t stream);

}  // namespace moerouter::cuda::detail
