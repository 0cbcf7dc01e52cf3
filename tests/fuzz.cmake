# Fuzzing (label: fuzz). Included from tests/CMakeLists.txt, in its directory scope.
#
# Three targets in tests/fuzz/, each one LLVMFuzzerTestOneInput:
#   fuzz_npy           the .npy reader (read_npy_bytes) on arbitrary bytes
#   fuzz_safetensors   the safetensors reader (SafetensorsFile::from_memory) on arbitrary bytes
#   fuzz_config        RouterConfig fields, CLI options and config.json hints; accepted configs
#                      are routed on the CPU backend
# Seed corpora live in tests/fuzz/corpus/<target>/ (tests/fuzz/make_corpus.py writes them; crash
# inputs found later are added there as regression seeds).
#
# Every build (any compiler): fuzz_<target>_replay, the same entry point linked with
# tests/fuzz/replay_main.cpp, and a CTest fuzz.replay_<target> that runs it over the corpus.
#
# -DMOEROUTER_FUZZ=ON with clang: the real libFuzzer binaries tests/fuzz/fuzz_<target> in the build
# tree, with the whole project compiled with ASan + UBSan and coverage instrumentation (use a
# build tree of its own), plus a short CTest fuzz.smoke_<target> each. Longer runs:
#   CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DMOEROUTER_FUZZ=ON -DMOEROUTER_CUDA=OFF \
#       -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build-fuzz --target fuzz_npy fuzz_safetensors fuzz_config
#   mkdir -p /tmp/fuzz-npy && build-fuzz/tests/fuzz/fuzz_npy -runs=10000000 \
#       -dict=tests/fuzz/npy.dict /tmp/fuzz-npy tests/fuzz/corpus/npy
# (new inputs go to the first directory; -jobs=N -workers=N for N processes, each doing -runs).

option(MOEROUTER_FUZZ "Build the libFuzzer targets (clang only; instruments the whole build)" OFF)

set(_fuzz_src ${CMAKE_CURRENT_LIST_DIR}/fuzz)
set(_fuzz_corpus ${_fuzz_src}/corpus)

# Which targets this configuration can build: the readers need moerouter_io (safetensors also
# nlohmann-json, as in tools/CMakeLists.txt); the config target always builds, with the CLI's
# build_config when CLI11 is there.
set(_fuzz_targets config)
if(TARGET moerouter_io)
  list(APPEND _fuzz_targets npy)
  find_package(nlohmann_json 3.2 QUIET)
  if(nlohmann_json_FOUND)
    list(APPEND _fuzz_targets safetensors)
  endif()
endif()

# Sources, libraries and definitions one target needs, beyond its own .cpp.
function(_moerouter_fuzz_deps exe target)
  target_include_directories(${exe} PRIVATE ${_fuzz_src} ${PROJECT_SOURCE_DIR}/tools)
  target_link_libraries(${exe} PRIVATE moerouter::moerouter)
  if(TARGET moerouter_io)
    target_link_libraries(${exe} PRIVATE moerouter_io)
  endif()
  if(target STREQUAL "config" AND MOEROUTER_CLI11_INCLUDE AND TARGET moerouter_io)
    target_sources(${exe} PRIVATE ${PROJECT_SOURCE_DIR}/tools/cli/config_options.cpp)
    target_include_directories(${exe} SYSTEM PRIVATE ${MOEROUTER_CLI11_INCLUDE})
    target_compile_definitions(${exe} PRIVATE MOEROUTER_FUZZ_HAVE_CLI_OPTIONS=1)
  endif()
endfunction()

# The replay executables and their tests (every build).
foreach(t ${_fuzz_targets})
  add_executable(fuzz_${t}_replay ${_fuzz_src}/fuzz_${t}.cpp ${_fuzz_src}/replay_main.cpp)
  _moerouter_fuzz_deps(fuzz_${t}_replay ${t})
  set_target_properties(fuzz_${t}_replay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
  add_test(NAME fuzz.replay_${t} COMMAND fuzz_${t}_replay ${_fuzz_corpus}/${t})
  set_tests_properties(fuzz.replay_${t} PROPERTIES LABELS fuzz TIMEOUT 300
                       PASS_REGULAR_EXPRESSION "inputs ran without a bug")
endforeach()

if(MOEROUTER_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MOEROUTER_FUZZ=ON needs clang with libFuzzer (CXX=clang++-14), got "
                        "${CMAKE_CXX_COMPILER_ID}")
  endif()
  message(STATUS "moerouter: libFuzzer targets ${_fuzz_targets} (project built with ASan + UBSan)")
  # Everything links moerouter::core, so its PUBLIC flags reach every library, test and tool:
  # coverage for the fuzzer in the code under test, and the sanitizers in all of it.
  set(_fuzz_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_compile_options(moerouter_core PUBLIC
                         $<$<COMPILE_LANGUAGE:CXX>:${_fuzz_san};-fsanitize=fuzzer-no-link>)
  target_link_options(moerouter_core PUBLIC $<$<LINK_LANGUAGE:CXX>:-fsanitize=address,undefined>)
  foreach(t ${_fuzz_targets})
    add_executable(fuzz_${t} ${_fuzz_src}/fuzz_${t}.cpp)
    _moerouter_fuzz_deps(fuzz_${t} ${t})
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    set_target_properties(fuzz_${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
    # A short run from the corpus; new inputs go to a scratch directory, never the source tree.
    set(_work ${CMAKE_CURRENT_BINARY_DIR}/fuzz/work_${t})
    add_test(NAME fuzz.smoke_${t}
             COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                     $<TARGET_FILE:fuzz_${t}> -runs=20000 -max_len=4096 -dict=${_fuzz_src}/${t}.dict
                     ${_work} ${_fuzz_corpus}/${t})
    set_tests_properties(fuzz.smoke_${t} PROPERTIES LABELS fuzz TIMEOUT 600)
    file(MAKE_DIRECTORY ${_work})
  endforeach()
endif()
