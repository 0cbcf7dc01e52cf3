#define MOEROUTER_EPILOGUE_FN epilogue_rows_avx2
#include "epilogue_rows.inl"
