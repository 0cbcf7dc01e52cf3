# The CUDA backend's tests (tests/test_cuda.cpp, tag [cuda]) need the device-memory helpers of
# backends/cuda/testing. Without the CUDA backend the file compiles to a single test that reports
# the backend as not built.
if(TARGET moerouter_cuda_testing)
  target_link_libraries(moerouter_tests PRIVATE moerouter_cuda_testing)
  target_compile_definitions(moerouter_tests PRIVATE MOEROUTER_TEST_CUDA=1)
  # test_warp_epilogue_emulated.cpp compiles the CUDA backend's warp epilogue as host code on an
  # emulated warp; its headers include <cuda_runtime.h> (types only, nothing from it is called).
  find_package(CUDAToolkit REQUIRED)
  target_include_directories(moerouter_tests PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
endif()
