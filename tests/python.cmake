# The Python module's pytest suite as CTest tests (label: python), one test per file so ctest -j
# runs them side by side. Included from tests/CMakeLists.txt, in its directory scope; present
# when the module is built (MOEROUTER_PYTHON=ON). Tests needing torch, a CUDA device or the CLI
# are skipped with the reason in pytest's summary (-rs) when those are missing.
if(TARGET moerouter_python)
  execute_process(COMMAND ${MOEROUTER_PYTHON_EXECUTABLE} -c "import pytest, numpy"
                  RESULT_VARIABLE _pytest_rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT _pytest_rc EQUAL 0)
    message(WARNING "moerouter: ${MOEROUTER_PYTHON_EXECUTABLE} lacks pytest or numpy; the Python "
                    "tests are not registered (Debian: apt install python3-pytest python3-numpy)")
  else()
    set(_env "PYTHONPATH=${MOEROUTER_PYTHON_PATH}")
    if(TARGET moerouter_cli)
      list(APPEND _env "MOEROUTER_CLI=$<TARGET_FILE:moerouter_cli>")
    endif()
    file(GLOB _python_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/python/tests/test_*.py)
    foreach(f ${_python_tests})
      get_filename_component(name ${f} NAME_WE)
      # -p no:cacheprovider: pytest would otherwise write .pytest_cache into the source tree.
      add_test(NAME python.${name}
               COMMAND ${MOEROUTER_PYTHON_EXECUTABLE} -m pytest -q -rs -p no:cacheprovider ${f}
               WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
      # Exit status 5 is pytest's "no tests collected": a file that skips itself as a whole (no
      # torch, no CUDA device) shows as skipped in ctest rather than failed or silently passed.
      set_tests_properties(python.${name} PROPERTIES ENVIRONMENT "${_env}" LABELS python
                           TIMEOUT 900 SKIP_RETURN_CODE 5)
    endforeach()
  endif()
endif()
