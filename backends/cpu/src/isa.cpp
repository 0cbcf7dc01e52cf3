#include <cstdlib>
#include <string>

#include "moerouter/cpu.hpp"
#include "moerouter/error.hpp"

namespace moerouter::cpu {

const char* to_string(Isa isa) noexcept {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "unknown";
}

Isa parse_isa(std::string_view s) {
  if (s == "scalar") return Isa::Scalar;
  if (s == "avx2") return Isa::Avx2;
  if (s == "avx512") return Isa::Avx512;
  fail_arg(ErrorCode::InvalidArgument, "MOEROUTER_CPU_ISA", "auto, scalar, avx2 or avx512",
           "'" + std::string(s) + "'");
}

bool isa_supported(Isa isa) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Avx512: return __builtin_cpu_supports("avx512f");
  }
  return false;
#else
  return isa == Isa::Scalar;
#endif
}

Isa best_isa() noexcept {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

Isa active_isa() {
  const char* env = std::getenv("MOEROUTER_CPU_ISA");
  if (!env || !*env || std::string_view(env) == "auto") return best_isa();
  const Isa isa = parse_isa(env);
  if (!isa_supported(isa))
    fail_arg(ErrorCode::Unsupported, "MOEROUTER_CPU_ISA", std::string("an ISA this CPU supports (best: ") +
             to_string(best_isa()) + ")", to_string(isa));
  return isa;
}

}  // namespace moerouter::cpu
