#define MOEROUTER_EPILOGUE_FN epilogue_rows_avx512
#include "epilogue_rows.inl"
