#include "topk.hpp"

namespace moerouter::cpu {

void select_topk(Isa isa, const float* act, const epilogue::Params& p, bool* group_flags, int32_t* ids_out) {
  switch (isa) {
    case Isa::Avx512: select_topk_avx512(act, p, group_flags, ids_out); return;
    case Isa::Avx2: select_topk_avx2(act, p, group_flags, ids_out); return;
    case Isa::Scalar: break;
  }
  epilogue::select_topk(act, p, group_flags, ids_out);
}

}  // namespace moerouter::cpu
