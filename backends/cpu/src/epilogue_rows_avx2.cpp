// Top-k is the AVX2 threshold filter (the same ids as epilogue::select_topk, see topk.hpp); the
// activation and the weights are the shared scalar code built with -mfma.
#include "topk.hpp"
#define MOEROUTER_EPILOGUE_FN epilogue_rows_avx2
#define MOEROUTER_EPILOGUE_SPAN_FN epilogue_span_avx2
#define MOEROUTER_EPILOGUE_TOPK select_topk_avx2
#include "epilogue_rows.inl"
