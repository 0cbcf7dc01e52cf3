# fmath_exhaustive: all 2^32 float inputs through every function of moerouter/fmath.hpp against
# float64 libm, printing the max ulp and worst input per function. Built only on request
# (EXCLUDE_FROM_ALL) and not a CTest test: it takes minutes.
#   cmake --build <build> --target fmath_exhaustive && <build>/tests/fmath_exhaustive [exp ...]
add_executable(fmath_exhaustive EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/fmath_exhaustive.cpp)
target_link_libraries(fmath_exhaustive PRIVATE moerouter::core OpenMP::OpenMP_CXX)
target_include_directories(fmath_exhaustive PRIVATE ${CMAKE_CURRENT_LIST_DIR})
