# CTest tests of `moerouter route --out-layout DIR`, the dispatch layout as .npy files (label: cli).
# Included from tests/CMakeLists.txt after cli.cmake, whose moerouter_cli_test(), _out, _data,
# _small, _io and _numpy_python it uses. tests/cli/check_layout.py checks each layout against the
# ids of the same run (offsets, counts, a stable permutation grouped by expert); the files of
# --threads 1 and --threads 2 must be byte-identical. Everything lives under ${_out}/layout, which
# the first test removes, so "DIR is created" and "a failed run leaves no DIR" are tested from a
# clean slate on every run.

if(TARGET moerouter_cli AND _numpy_python)
  set(_lay ${_out}/layout)
  set(_check_layout ${_numpy_python} ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_layout.py)
  add_test(NAME cli.layout_clean COMMAND ${CMAKE_COMMAND} -E rm -rf ${_lay})
  set_tests_properties(cli.layout_clean PROPERTIES LABELS cli FIXTURES_SETUP cli_layout_clean)

  # moerouter_layout_check(NAME FIXTURE args...): check_layout.py as a test needing FIXTURE.
  function(moerouter_layout_check name fixture)
    add_test(NAME cli.${name} COMMAND ${_check_layout} ${ARGN})
    set_tests_properties(cli.${name} PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_layout_clean;${fixture}")
  endfunction()

  moerouter_cli_test(help_route_layout ok STDOUT "--out-layout DIR.*expert_offsets\\.npy.*token_slots\\.npy"
                     ARGS route --help)

  # --- golden inputs, routed with 1 and 2 threads --------------------------------------------
  # Each set: preset, kind, dtype, "hash" for hash routing, rows, experts. Tie-heavy inputs and
  # E = 8 put many slots on each expert, where the order within an expert matters.
  set(_layout_sets "dsv3 ties f32 - 128 256" "mixtral random f32 - 200 8"
                   "dsv4-flash integer bf16 hash 96 256")
  foreach(gs IN LISTS _layout_sets)
    separate_arguments(gs)
    list(GET gs 0 preset)
    list(GET gs 1 kind)
    list(GET gs 2 dtype)
    list(GET gs 3 hash)
    list(GET gs 4 n)
    list(GET gs 5 experts)
    list(SUBLIST gs 0 4 tag)
    list(JOIN tag _ tag)
    set(dir ${_lay}/golden_${tag})
    set(golden_hash "")
    set(route_hash "")
    if(hash STREQUAL "hash")
      set(golden_hash --hash-vocab 50)
      set(route_hash --token-ids ${dir}/token_ids.npy --hash-table ${dir}/hash_table.npy)
    endif()
    moerouter_cli_test(layout_golden_${tag} ok PRESENT ${dir}/x.npy ${dir}/weight.npy ${dir}/bias.npy
                       FIXTURES_REQUIRED cli_layout_clean FIXTURES_SETUP cli_layout_golden_${tag}
                       ARGS golden --preset ${preset} --n ${n} --kind ${kind} --dtype ${dtype}
                            --seed 17 ${golden_hash} --out ${dir})
    foreach(threads 1 2)
      set(r ${dir}/t${threads})
      # The layout directory is two levels below anything that exists: route creates both.
      moerouter_cli_test(layout_route_${tag}_t${threads} ok
                         FIXTURES_REQUIRED "cli_layout_clean;cli_layout_golden_${tag}"
                         FIXTURES_SETUP cli_layout_route_${tag}
                         PRESENT ${r}/ids.npy ${r}/weights.npy ${r}/counts.npy
                         STDOUT "${n} rows.*gemm canonical.*dispatch layout of [0-9]+ slots over ${experts} experts"
                         ARGS route --preset ${preset} --x ${dir}/x.npy --weight ${dir}/weight.npy
                              --bias ${dir}/bias.npy ${route_hash} --device cpu --threads ${threads}
                              --out-ids ${r}/ids.npy --out-weights ${r}/weights.npy
                              --out-counts ${r}/counts.npy --out-layout ${r}/layout/dispatch)
      moerouter_layout_check(layout_consistent_${tag}_t${threads} cli_layout_route_${tag}
                             ${r}/ids.npy ${r}/layout/dispatch --experts ${experts}
                             --counts ${r}/counts.npy)
    endforeach()
    foreach(what counts expert_offsets token_slots)
      add_test(NAME cli.layout_threads_identical_${tag}_${what}
               COMMAND ${CMAKE_COMMAND} -E compare_files ${dir}/t1/layout/dispatch/${what}.npy
                       ${dir}/t2/layout/dispatch/${what}.npy)
      set_tests_properties(cli.layout_threads_identical_${tag}_${what} PROPERTIES LABELS cli
                           FIXTURES_REQUIRED "cli_layout_clean;cli_layout_route_${tag}")
    endforeach()
  endforeach()

  # --- the small fixtures: an existing (empty) directory, --validate -------------------------
  set(o ${_lay}/small)
  moerouter_cli_test(layout_small ok FIXTURES_REQUIRED cli_layout_clean FIXTURES_SETUP cli_layout_small
                     PRESENT ${o}/w.npy ${o}/i.npy ${o}/layout/counts.npy ${o}/layout/expert_offsets.npy
                             ${o}/layout/token_slots.npy
                     STDOUT "3 rows.*dispatch layout of 6 slots over 4 experts"
                     ARGS route ${_small} ${_io} --validate --out-weights ${o}/w.npy --out-ids ${o}/i.npy
                          --out-layout ${o}/layout)
  moerouter_layout_check(layout_small_consistent cli_layout_small ${o}/i.npy ${o}/layout --experts 4)

  # --- failures write nothing: no outputs, and no layout directory ---------------------------
  # moerouter_layout_bad(NAME STDERR_REGEX LAYOUT_DIR GONE args...): each failing run gets its own
  # directory; afterwards GONE (the part of LAYOUT_DIR the run would have created; "-": no check)
  # must not exist.
  function(moerouter_layout_bad name stderr layout_dir gone)
    set(o ${_lay}/bad_${name})
    moerouter_cli_test(bad_layout_${name} fail STDERR "${stderr}" ABSENT ${o}/w.npy ${o}/i.npy
                       FIXTURES_REQUIRED cli_layout_clean FIXTURES_SETUP cli_layout_bad_${name}
                       ARGS route ${ARGN} --out-weights ${o}/w.npy --out-ids ${o}/i.npy
                            --out-layout ${layout_dir})
    if(NOT gone STREQUAL "-")
      moerouter_layout_check(bad_layout_${name}_no_dir cli_layout_bad_${name} --absent ${gone})
    endif()
  endfunction()
  set(b ${_lay}/bad)
  # Routing fails (a NaN row under --validate): the directory is never created.
  moerouter_layout_bad(route_failed "x\\[1\\].*finite" ${b}_route_failed/layout ${b}_route_failed/layout
                       ${_small} --x ${_data}/x_nan.npy --weight ${_data}/weight.npy --validate)
  # Routing succeeds, then --out-counts cannot be written (no such directory): the directories
  # made for the layout are removed again and the weights and ids are not committed.
  moerouter_layout_bad(counts_unwritable "no_such_dir" ${b}_counts_unwritable/layout/deeper
                       ${b}_counts_unwritable/layout
                       ${_small} ${_io} --out-counts ${b}_counts_unwritable/no_such_dir/c.npy)
  # A file in the place of DIR: caught before routing, nothing written (the file stays, of course).
  moerouter_layout_bad(dir_is_file "--out-layout.*check_run\\.cmake.*expected a directory, got a file"
                       ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake - ${_small} ${_io})
  # A file further up: DIR cannot be created once routing succeeded; nothing written.
  moerouter_layout_bad(parent_is_file "--out-layout.*check_run\\.cmake/layout.*cannot create the directory"
                       ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake/layout
                       ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake/layout ${_small} ${_io})
  # The layout's counts.npy and --out-counts naming the same file.
  moerouter_layout_bad(same_counts "distinct" ${b}_same_counts/layout ${b}_same_counts/layout
                       ${_small} ${_io} --out-counts ${b}_same_counts/layout/counts.npy)
endif()
