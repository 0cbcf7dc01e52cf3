// The activation is the vectorized one (bit-identical to epilogue::activate_row, tested on every
// float); top-k and the weights stay the shared scalar code.
#include "activate_avx512.hpp"
#define MOEROUTER_EPILOGUE_FN epilogue_rows_avx512
#define MOEROUTER_EPILOGUE_ACTIVATE activate_row_avx512
#include "epilogue_rows.inl"
