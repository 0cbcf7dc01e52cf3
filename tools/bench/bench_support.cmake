# moerouter_bench_support: what the benchmark binary (tools/bench) and `moerouter bench` (tools/cli)
# share — this machine's FMA peak. Included from tools/CMakeLists.txt (for the CLI) and from
# tools/bench/CMakeLists.txt (for MOEROUTER_BENCH builds without the CLI), whichever comes first.
if(TARGET moerouter_bench_support)
  return()
endif()
set(_dir ${CMAKE_CURRENT_LIST_DIR})
add_library(moerouter_bench_support STATIC ${_dir}/fma_peak.cpp)
target_include_directories(moerouter_bench_support PUBLIC ${_dir})
target_link_libraries(moerouter_bench_support PRIVATE OpenMP::OpenMP_CXX)
# The loops are compiled for their instruction set; fma_peak.cpp (no ISA flags) calls one only
# after __builtin_cpu_supports says the CPU has it, so nothing wider leaks into code that always runs.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  target_sources(moerouter_bench_support PRIVATE ${_dir}/fma_loop_avx512.cpp ${_dir}/fma_loop_avx2.cpp)
  set_source_files_properties(${_dir}/fma_loop_avx512.cpp TARGET_DIRECTORY moerouter_bench_support
                              PROPERTIES COMPILE_OPTIONS "-mavx512f;-mfma")
  set_source_files_properties(${_dir}/fma_loop_avx2.cpp TARGET_DIRECTORY moerouter_bench_support
                              PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma")
endif()
