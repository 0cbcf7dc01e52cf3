# CTest smoke tests of the `moerouter` CLI (label: cli). Included from tests/CMakeLists.txt, in
# its directory scope. Runs through tests/cli/check_run.cmake, which checks exit status, the
# one-line error on stderr and that a failed run left no output file behind.

# test_npy.cpp needs the .npy library; without tools/ (MOEROUTER_TOOLS=OFF) there is no
# moerouter_io target, so its sources are compiled into the test binary instead.
if(NOT TARGET moerouter_io)
  target_sources(moerouter_tests PRIVATE
    ${PROJECT_SOURCE_DIR}/tools/io/npy.cpp
    ${PROJECT_SOURCE_DIR}/tools/io/npy_header.cpp
    ${PROJECT_SOURCE_DIR}/tools/io/npy_read.cpp
    ${PROJECT_SOURCE_DIR}/tools/io/npy_write.cpp
    ${PROJECT_SOURCE_DIR}/tools/io/atomic_file.cpp)
endif()

if(TARGET moerouter_cli)
  set(_cli $<TARGET_FILE:moerouter_cli>)
  set(_check ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake)
  set(_data ${CMAKE_CURRENT_SOURCE_DIR}/data/cli)
  set(_out ${CMAKE_CURRENT_BINARY_DIR}/cli)
  # The small config the fixtures in data/cli were made for (tests/data/make_npy_fixtures.py).
  set(_small --hidden 8 --experts 4 --top-k 2 --score sigmoid)

  # moerouter_cli_test(NAME ok|fail [STDOUT re] [STDERR re] [PRESENT f...] [ABSENT f...]
  #                    [FIXTURES_SETUP f] [FIXTURES_REQUIRED f...] [TIMEOUT s] ARGS args...)
  function(moerouter_cli_test name expect)
    cmake_parse_arguments(T "" "STDOUT;STDERR;FIXTURES_SETUP;TIMEOUT"
                          "PRESENT;ABSENT;FIXTURES_REQUIRED;ARGS" ${ARGN})
    set(defs -DEXPECT=${expect})
    if(DEFINED T_STDOUT)
      list(APPEND defs "-DSTDOUT=${T_STDOUT}")
    endif()
    if(DEFINED T_STDERR)
      list(APPEND defs "-DSTDERR=${T_STDERR}")
    endif()
    if(T_PRESENT)
      string(REPLACE ";" "|" present "${T_PRESENT}")
      list(APPEND defs "-DPRESENT=${present}")
    endif()
    if(T_ABSENT)
      string(REPLACE ";" "|" absent "${T_ABSENT}")
      list(APPEND defs "-DABSENT=${absent}")
    endif()
    add_test(NAME cli.${name} COMMAND ${CMAKE_COMMAND} ${defs} -P ${_check} -- ${_cli} ${T_ARGS})
    set_tests_properties(cli.${name} PROPERTIES LABELS cli)
    if(T_FIXTURES_SETUP)
      set_tests_properties(cli.${name} PROPERTIES FIXTURES_SETUP ${T_FIXTURES_SETUP})
    endif()
    if(T_FIXTURES_REQUIRED)
      set_tests_properties(cli.${name} PROPERTIES FIXTURES_REQUIRED "${T_FIXTURES_REQUIRED}")
    endif()
    if(T_TIMEOUT)
      set_tests_properties(cli.${name} PROPERTIES TIMEOUT ${T_TIMEOUT})
    endif()
  endfunction()

  # --- help ---------------------------------------------------------------------------------
  moerouter_cli_test(help ok STDOUT "route.*demo.*golden" ARGS --help)
  foreach(sub route demo golden)
    moerouter_cli_test(help_${sub} ok STDOUT "Usage: .*${sub}.*--device|Usage: .*${sub}.*--out"
                       ARGS ${sub} --help)
  endforeach()

  # --- demo: the built-in default, judged against the float64 oracle -------------------------
  moerouter_cli_test(demo ok TIMEOUT 600
                     STDOUT "dsv4-pro.*tokens/s.*expert load.*0 mismatch" ARGS demo)
  moerouter_cli_test(demo_fp32_dsv3 ok TIMEOUT 600 STDOUT "groups=8.*0 mismatch"
                     ARGS demo --preset dsv3 --gemm fp32 --n 512 --threads 2)

  # --- golden vectors, then route on them ----------------------------------------------------
  # Each golden set: preset, kind, dtype, and "hash" for hash routing. Route runs twice (1 and 2
  # threads) and must give byte-identical files (canonical mode: thread count never changes a bit).
  set(_golden_sets "dsv4-flash random f32 -" "dsv3 random bf16 -" "qwen3-moe ties f32 -"
                   "dsv4-flash integer bf16 hash")
  set(_golden_files x.npy weight.npy bias.npy ids.npy weights.npy logits.npy delta.npy config.json)
  foreach(gs IN LISTS _golden_sets)
    separate_arguments(gs)
    list(GET gs 0 preset)
    list(GET gs 1 kind)
    list(GET gs 2 dtype)
    list(GET gs 3 hash)
    list(JOIN gs _ tag)
    set(dir ${_out}/golden_${tag})
    list(TRANSFORM _golden_files PREPEND ${dir}/ OUTPUT_VARIABLE files)
    set(golden_hash "")
    set(route_hash "")
    if(hash STREQUAL "hash")
      list(APPEND files ${dir}/token_ids.npy ${dir}/hash_table.npy)
      set(golden_hash --hash-vocab 1000)
      set(route_hash --token-ids ${dir}/token_ids.npy --hash-table ${dir}/hash_table.npy)
    endif()
    moerouter_cli_test(golden_${tag} ok PRESENT ${files} FIXTURES_SETUP cli_golden_${tag}
                       STDOUT "moerouter golden: 64 rows"
                       ARGS golden --preset ${preset} --n 64 --kind ${kind} --dtype ${dtype}
                            --seed 11 ${golden_hash} --out ${dir})
    foreach(threads 1 2)
      set(p ${dir}/route_t${threads})
      moerouter_cli_test(route_golden_${tag}_t${threads} ok
                         FIXTURES_REQUIRED cli_golden_${tag} FIXTURES_SETUP cli_route_${tag}
                         PRESENT ${p}_ids.npy ${p}_weights.npy ${p}_logits.npy
                         STDOUT "64 rows.*gemm canonical"
                         ARGS route --preset ${preset} --x ${dir}/x.npy --weight ${dir}/weight.npy
                              --bias ${dir}/bias.npy ${route_hash} --device cpu --threads ${threads}
                              --out-ids ${p}_ids.npy --out-weights ${p}_weights.npy
                              --out-logits ${p}_logits.npy)
    endforeach()
    foreach(what ids weights logits)
      add_test(NAME cli.route_golden_${tag}_threads_identical_${what}
               COMMAND ${CMAKE_COMMAND} -E compare_files ${dir}/route_t1_${what}.npy
                       ${dir}/route_t2_${what}.npy)
      set_tests_properties(cli.route_golden_${tag}_threads_identical_${what} PROPERTIES
                           LABELS cli FIXTURES_REQUIRED cli_route_${tag})
    endforeach()
  endforeach()

  # The oracle comparison needs NumPy (Debian's python3-numpy lives under /usr/bin/python3).
  set(_numpy_python "")
  foreach(candidate /usr/bin/python3 python3)
    execute_process(COMMAND ${candidate} -c "import numpy" RESULT_VARIABLE _rc
                    OUTPUT_QUIET ERROR_QUIET)
    if(_rc EQUAL 0)
      set(_numpy_python ${candidate})
      break()
    endif()
  endforeach()
  if(_numpy_python)
    foreach(gs IN LISTS _golden_sets)
      separate_arguments(gs)
      list(JOIN gs _ tag)
      set(dir ${_out}/golden_${tag})
      add_test(NAME cli.route_golden_${tag}_matches_oracle
               COMMAND ${_numpy_python} ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_golden.py ${dir}
                       ${dir}/route_t1_ids.npy ${dir}/route_t1_weights.npy ${dir}/route_t1_logits.npy)
      set_tests_properties(cli.route_golden_${tag}_matches_oracle PROPERTIES
                           LABELS cli FIXTURES_REQUIRED cli_route_${tag})
    endforeach()
  else()
    message(STATUS "moerouter: no python3 with numpy; cli.*_matches_oracle tests are not added")
  endif()

  # --- route on the small fixtures -----------------------------------------------------------
  set(_io --x ${_data}/x.npy --weight ${_data}/weight.npy --bias ${_data}/bias.npy)
  set(o ${_out}/route_small)
  moerouter_cli_test(route_small ok PRESENT ${o}/w.npy ${o}/i.npy ${o}/l.npy ${o}/c.npy
                     STDOUT "3 rows.*0 non-finite rows"
                     ARGS route ${_small} ${_io} --out-weights ${o}/w.npy --out-ids ${o}/i.npy
                          --out-logits ${o}/l.npy --out-counts ${o}/c.npy --validate)
  set(o ${_out}/route_small_bf16)
  moerouter_cli_test(route_small_bf16 ok PRESENT ${o}/w.npy ${o}/i.npy
                     ARGS route ${_small} --x ${_data}/x_bf16.npy --weight ${_data}/weight.npy
                          --out-weights ${o}/w.npy --out-ids ${o}/i.npy)
  set(o ${_out}/route_small_hash)
  moerouter_cli_test(route_small_hash ok PRESENT ${o}/w.npy ${o}/i.npy
                     ARGS route ${_small} ${_io} --token-ids ${_data}/token_ids.npy
                          --hash-table ${_data}/hash_table.npy
                          --out-weights ${o}/w.npy --out-ids ${o}/i.npy)
  set(o ${_out}/route_small_nan)
  moerouter_cli_test(route_small_nan_reported ok PRESENT ${o}/w.npy ${o}/i.npy
                     STDOUT "1 non-finite rows"
                     ARGS route ${_small} --x ${_data}/x_nan.npy --weight ${_data}/weight.npy
                          --out-weights ${o}/w.npy --out-ids ${o}/i.npy)

  # --- bad input: non-zero exit, one line on stderr, no output file --------------------------
  # moerouter_cli_bad(NAME STDERR_REGEX args...): outputs go to their own directory, checked absent;
  # runs on the CPU (--device cpu) unless the arguments name a device. The regexes are anchored:
  # "^moerouter: error: <code>: <argument>: expected <...>, got <...>" (README "Bad input").
  # An unbalanced "[" in a CMake list element stops ";" from splitting the arguments after it, so
  # the half-open ranges "[0, n)" are matched as ".0, n\)".
  function(moerouter_cli_bad name stderr)
    set(o ${_out}/bad_${name})
    set(device --device cpu)
    if("--device" IN_LIST ARGN)
      set(device "")
    endif()
    moerouter_cli_test(bad_${name} fail STDERR "${stderr}" ABSENT ${o}/w.npy ${o}/i.npy ${o}/l.npy
                       FIXTURES_REQUIRED ${_bad_fixtures}
                       ARGS route ${ARGN} ${device} --out-weights ${o}/w.npy --out-ids ${o}/i.npy
                            --out-logits ${o}/l.npy)
  endfunction()
  set(_e "^moerouter: error: ")
  set(_bad_fixtures "")
  moerouter_cli_bad(missing_file "${_e}io_error: cannot open --x '[^']*nope\\.npy': No such file"
                    ${_small} --x ${_data}/nope.npy --weight ${_data}/weight.npy)
  # The .npy loader checks dtype and shape against the config before route() sees the tensors,
  # so these are io_error naming the option (README "Bad input", CLI column).
  moerouter_cli_bad(wrong_dtype
                    "${_e}io_error: --x '[^']*x_i4\\.npy': dtype: expected float32 \\(<f4\\) or bfloat16 .*, got int32"
                    ${_small} --x ${_data}/x_i4.npy --weight ${_data}/weight.npy)
  moerouter_cli_bad(shape_mismatch_h
                    "${_e}io_error: --x '[^']*x_h7\\.npy': shape: expected \\[\\*, 8\\], got \\[3, 7\\]"
                    ${_small} --x ${_data}/x_h7.npy --weight ${_data}/weight.npy)
  moerouter_cli_bad(weight_shape "${_e}io_error: --weight '[^']*': shape: expected \\[4, 8\\], got \\[3, 8\\]"
                    ${_small} --x ${_data}/x.npy --weight ${_data}/x.npy)
  moerouter_cli_bad(bias_dtype "${_e}io_error: --bias '[^']*': dtype: expected float32 \\(<f4\\), got int32"
                    ${_small} --x ${_data}/x.npy --weight ${_data}/weight.npy --bias ${_data}/token_ids.npy)
  moerouter_cli_bad(bias_rank "${_e}io_error: --bias '[^']*': shape: expected \\[4\\], got \\[3, 8\\]"
                    ${_small} --x ${_data}/x.npy --weight ${_data}/weight.npy --bias ${_data}/x.npy)
  moerouter_cli_bad(hash_table_dtype
                    "${_e}io_error: --hash-table '[^']*': dtype: expected int32 \\(<i4\\) or int64 \\(<i8\\), got float32"
                    ${_small} ${_io} --token-ids ${_data}/token_ids.npy --hash-table ${_data}/x.npy)
  moerouter_cli_bad(hash_table_width
                    "${_e}io_error: --hash-table '[^']*hash_table\\.npy': shape: expected \\[\\*, 3\\], got \\[5, 2\\]"
                    --hidden 8 --experts 4 --top-k 3 --score sigmoid ${_io}
                    --token-ids ${_data}/token_ids.npy --hash-table ${_data}/hash_table.npy)
  moerouter_cli_bad(fortran_order "${_e}io_error: --x '[^']*x_fortran\\.npy': fortran_order: expected False"
                    ${_small} --x ${_data}/x_fortran.npy --weight ${_data}/weight.npy)
  # Config fields: invalid_argument naming config.<field>, checked before any file is read.
  set(_top_k "${_e}invalid_argument: config\\.top_k: expected 1 <= top_k <= min\\(experts, 32\\) = ")
  moerouter_cli_bad(k_above_e "${_top_k}4, got 5" --hidden 8 --experts 4 --top-k 5 --score sigmoid ${_io})
  moerouter_cli_bad(k_zero "${_top_k}4, got 0" --hidden 8 --experts 4 --top-k 0 --score sigmoid ${_io})
  moerouter_cli_bad(k_above_32 "${_top_k}32, got 33" --hidden 8 --experts 64 --top-k 33 --score sigmoid ${_io})
  moerouter_cli_bad(experts_above_1024
                    "${_e}invalid_argument: config\\.experts: expected 1 <= experts <= 1024, got 1025"
                    --hidden 8 --experts 1025 --top-k 2 --score sigmoid ${_io})
  moerouter_cli_bad(groups_not_dividing_e
                    "${_e}invalid_argument: config\\.groups: expected a divisor of experts = 4, got 3"
                    ${_small} --groups 3 --topk-groups 1 ${_io})
  moerouter_cli_bad(topk_groups_above_groups
                    "${_e}invalid_argument: config\\.topk_groups: expected 1 <= topk_groups <= min\\(groups, 32\\) = 2, got 3"
                    ${_small} --groups 2 --topk-groups 3 ${_io})
  moerouter_cli_bad(too_few_experts_after_group_limit
                    "${_e}invalid_argument: config\\.top_k: expected at most topk_groups \\* experts/groups = 1 experts left after the group limit, got 2"
                    ${_small} --groups 4 --topk-groups 1 ${_io})
  moerouter_cli_bad(scale_not_finite "${_e}invalid_argument: config\\.scale: expected a finite number, got inf"
                    ${_small} --scale inf ${_io})
  # Values: checked by the router (hash-table rows only for the tokens used).
  moerouter_cli_bad(hash_table_out_of_range
                    "${_e}invalid_argument: hash_table\\[1\\]\\[0\\]: expected an expert id in .0, 4\\), got 4"
                    ${_small} ${_io} --token-ids ${_data}/token_ids.npy --hash-table ${_data}/hash_table_oob.npy)
  moerouter_cli_bad(token_id_past_vocab
                    "${_e}invalid_argument: token_ids\\[1\\]: expected a token id in .0, 5\\), got 5"
                    ${_small} ${_io} --token-ids ${_data}/token_ids_oob.npy --hash-table ${_data}/hash_table.npy)
  moerouter_cli_bad(token_ids_without_table
                    "${_e}invalid_argument: --token-ids: expected --hash-table .*, got none"
                    ${_small} ${_io} --token-ids ${_data}/token_ids.npy)
  moerouter_cli_bad(table_without_token_ids
                    "${_e}invalid_argument: --hash-table: expected --token-ids with it, got none"
                    ${_small} ${_io} --hash-table ${_data}/hash_table.npy)
  moerouter_cli_bad(validate_nan
                    "${_e}non_finite_input: x\\[1\\]: expected finite logits \\(validate=true\\), got NaN or infinite"
                    ${_small} --x ${_data}/x_nan.npy --weight ${_data}/weight.npy --validate)
  moerouter_cli_bad(config_incomplete
                    "${_e}invalid_argument: config: expected --preset NAME, or all of .*, got no --top-k --score"
                    --hidden 8 --experts 4 ${_io})
  moerouter_cli_bad(unknown_preset "${_e}invalid_argument: preset: expected one of .*dsv4-pro.*, got 'nonsense'"
                    --preset nonsense ${_io})
  moerouter_cli_bad(unknown_score
                    "${_e}invalid_argument: score: expected sqrtsoftplus, sigmoid or softmax, got 'relu'"
                    --hidden 8 --experts 4 --top-k 2 --score relu ${_io})
  moerouter_cli_bad(option_twice "${_e}invalid_argument: --x: At Most 1 required but received 2" ${_small} ${_io} --x ${_data}/x.npy)
  moerouter_cli_bad(negative_threads "${_e}invalid_argument: --threads: expected an integer >= 0, got '-1'"
                    ${_small} ${_io} --threads -1)
  moerouter_cli_bad(unknown_device "${_e}invalid_argument: device: expected auto, cpu or cuda, got 'tpu'" ${_small} ${_io} --device tpu)
  moerouter_cli_bad(unknown_gemm "${_e}invalid_argument: gemm: expected canonical, fp32 or bf16, got 'fp8'"
                    ${_small} ${_io} --gemm fp8)
  moerouter_cli_bad(not_npy "${_e}io_error: --x '[^']*check_run\\.cmake': bad magic: expected 93 4e 55 4d 50 59"
                    ${_small} --x ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --weight ${_data}/weight.npy)
  if(NOT MOEROUTER_WITH_CUDA)
    moerouter_cli_bad(cuda_not_built "${_e}backend_unavailable: device: expected a backend built into this library .*, got cuda" ${_small} ${_io} --device cuda)
  endif()
  # Bad values that need their own small files (tests/cli/make_bad_inputs.py, NumPy).
  if(_numpy_python)
    set(_bad ${_out}/bad_inputs)
    add_test(NAME cli.bad_input_fixtures
             COMMAND ${_numpy_python} ${CMAKE_CURRENT_SOURCE_DIR}/cli/make_bad_inputs.py ${_bad})
    set_tests_properties(cli.bad_input_fixtures PROPERTIES LABELS cli FIXTURES_SETUP cli_bad_inputs)
    set(_bad_fixtures cli_bad_inputs)
    moerouter_cli_bad(negative_token_id
                      "${_e}invalid_argument: token_ids\\[1\\]: expected a token id in .0, 5\\), got -1"
                      ${_small} ${_io} --token-ids ${_bad}/token_ids_negative.npy
                      --hash-table ${_data}/hash_table.npy)
    moerouter_cli_bad(negative_hash_table_entry
                      "${_e}invalid_argument: hash_table\\[4\\]\\[1\\]: expected an expert id in .0, 4\\), got -3"
                      ${_small} ${_io} --token-ids ${_data}/token_ids.npy
                      --hash-table ${_bad}/hash_table_negative.npy)
    moerouter_cli_bad(bias_length "${_e}io_error: --bias '[^']*bias_short\\.npy': shape: expected \\[4\\], got \\[3\\]"
                      ${_small} --x ${_data}/x.npy --weight ${_data}/weight.npy --bias ${_bad}/bias_short.npy)
    moerouter_cli_bad(token_ids_length
                      "${_e}io_error: --token-ids '[^']*token_ids_long\\.npy': shape: expected \\[3\\], got \\[4\\]"
                      ${_small} ${_io} --token-ids ${_bad}/token_ids_long.npy --hash-table ${_data}/hash_table.npy)
    # An out-of-range row that no token uses is not checked: the call succeeds.
    set(o ${_out}/route_unused_bad_row)
    moerouter_cli_test(route_unused_bad_table_row ok PRESENT ${o}/w.npy ${o}/i.npy
                       FIXTURES_REQUIRED cli_bad_inputs
                       ARGS route ${_small} ${_io} --device cpu --token-ids ${_data}/token_ids.npy
                            --hash-table ${_bad}/hash_table_unused_bad_row.npy
                            --out-weights ${o}/w.npy --out-ids ${o}/i.npy)
    set(_bad_fixtures "")
  endif()

  # All or nothing: the ids cannot be written (no such directory), so the weights must not be.
  set(o ${_out}/bad_unwritable)
  moerouter_cli_test(bad_unwritable_output fail STDERR "no_such_dir" ABSENT ${o}/w.npy
                     ARGS route ${_small} ${_io} --out-weights ${o}/w.npy
                          --out-ids ${o}/no_such_dir/i.npy)
  set(o ${_out}/bad_same_output)
  moerouter_cli_test(bad_same_output fail STDERR "distinct" ABSENT ${o}/w.npy
                     ARGS route ${_small} ${_io} --out-weights ${o}/w.npy --out-ids ${o}/w.npy)
  moerouter_cli_test(bad_no_subcommand fail STDERR "subcommand" ARGS)
  moerouter_cli_test(bad_demo_preset fail STDERR "preset" ARGS demo --preset nonsense --n 4)
  set(o ${_out}/bad_golden_kind)
  moerouter_cli_test(bad_golden_kind fail STDERR "kind|random" ABSENT ${o}/x.npy ${o}/config.json
                     ARGS golden --preset mixtral --kind nonsense --out ${o})
endif()
