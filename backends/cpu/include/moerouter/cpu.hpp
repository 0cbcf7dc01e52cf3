// The CPU backend: the golden reference, and a fallback router for machines without a GPU.
#pragma once
#include "moerouter/registry.hpp"

namespace moerouter::cpu {

// Instruction sets of the canonical GEMM. All produce identical bits; they differ only in speed.
enum class Isa { Scalar, Avx2, Avx512 };

const char* to_string(Isa isa) noexcept;
Isa parse_isa(std::string_view s);     // "scalar" | "avx2" | "avx512"
Isa best_isa() noexcept;               // the widest this CPU supports
bool isa_supported(Isa isa) noexcept;
// The ISA route() uses now: MOEROUTER_CPU_ISA (scalar|avx2|avx512|auto) if set, else best_isa().
// Throws Unsupported when the variable names an ISA this CPU lacks.
Isa active_isa();

// Registry entry (make_router registers it).
const Backend& backend();

}  // namespace moerouter::cpu
