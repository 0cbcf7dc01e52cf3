# activation_simd_exhaustive: all 2^32 float inputs through each AVX-512 activation function
# (backends/cpu/src/activate_avx512.*) against the scalar fmath/epilogue code, bit for bit. Built
# only on request (EXCLUDE_FROM_ALL) and not a CTest test: it takes minutes.
#   cmake --build <build> --target activation_simd_exhaustive && <build>/tests/activation_simd_exhaustive
add_executable(activation_simd_exhaustive EXCLUDE_FROM_ALL
               ${CMAKE_CURRENT_LIST_DIR}/activation_simd_exhaustive.cpp)
target_link_libraries(activation_simd_exhaustive PRIVATE moerouter::cpu OpenMP::OpenMP_CXX)
target_include_directories(activation_simd_exhaustive PRIVATE ${CMAKE_CURRENT_LIST_DIR})
