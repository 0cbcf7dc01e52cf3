#define MOEROUTER_EPILOGUE_FN epilogue_rows_scalar
#include "epilogue_rows.inl"
