// The activation is the vectorized one (bit-identical to epilogue::activate_row, tested on every
// float), top-k the AVX-512 threshold filter (the same ids as epilogue::select_topk, see topk.hpp);
// the weights stay the shared scalar code.
#include "activate_avx512.hpp"
#include "topk.hpp"
#define MOEROUTER_EPILOGUE_FN epilogue_rows_avx512
#define MOEROUTER_EPILOGUE_SPAN_FN epilogue_span_avx512
#define MOEROUTER_EPILOGUE_ACTIVATE activate_row_avx512
#define MOEROUTER_EPILOGUE_TOPK select_topk_avx512
#include "epilogue_rows.inl"
