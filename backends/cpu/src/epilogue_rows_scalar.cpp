#define MOEROUTER_EPILOGUE_FN epilogue_rows_scalar
#define MOEROUTER_EPILOGUE_SPAN_FN epilogue_span_scalar
#include "epilogue_rows.inl"
