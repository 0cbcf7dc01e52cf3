#include "epilogue_rows.hpp"

namespace moerouter::cpu {

int64_t epilogue_rows(Isa isa, const RouterConfig& cfg, const epilogue::Params& params,
                      const EpilogueBlock& block) {
  switch (isa) {
    case Isa::Avx512: return epilogue_rows_avx512(cfg, params, block);
    case Isa::Avx2: return epilogue_rows_avx2(cfg, params, block);
    case Isa::Scalar: break;
  }
  return epilogue_rows_scalar(cfg, params, block);
}

EpilogueSpanResult epilogue_span(Isa isa, const RouterConfig& cfg, const epilogue::Params& params,
                                 const EpilogueSpan& span) {
  switch (isa) {
    case Isa::Avx512: return epilogue_span_avx512(cfg, params, span);
    case Isa::Avx2: return epilogue_span_avx2(cfg, params, span);
    case Isa::Scalar: break;
  }
  return epilogue_span_scalar(cfg, params, span);
}

}  // namespace moerouter::cpu
