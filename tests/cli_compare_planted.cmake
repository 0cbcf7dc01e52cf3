# CTest tests of `moerouter compare` with a file side (label: cli): outputs computed elsewhere,
# given as `--b file:WEIGHTS.npy,IDS.npy`. Included from tests/CMakeLists.txt after cli.cmake
# (moerouter_cli_test, _out, _numpy_python). Golden inputs are routed on cpu:canonical, a wrong id
# is planted in a copy of the outputs (tests/cli/plant_disagreement.py, row 17): compare must
# exit non-zero naming that row, and the unplanted outputs (int32, and int64 copies) exit zero.

if(TARGET moerouter_cli AND _numpy_python)
  set(_pl ${_out}/compare_planted)
  set(_pl_in --preset dsv4-flash --x ${_pl}/x.npy --weight ${_pl}/weight.npy --bias ${_pl}/bias.npy)
  moerouter_cli_test(compare_planted_golden ok FIXTURES_SETUP cli_planted_golden
                     ARGS golden --preset dsv4-flash --n 40 --seed 31 --out ${_pl})
  moerouter_cli_test(compare_planted_route ok FIXTURES_REQUIRED cli_planted_golden
                     FIXTURES_SETUP cli_planted_route PRESENT ${_pl}/w.npy ${_pl}/i.npy
                     ARGS route ${_pl_in} --device cpu --out-weights ${_pl}/w.npy --out-ids ${_pl}/i.npy)
  add_test(NAME cli.compare_planted_plant
           COMMAND ${_numpy_python} ${CMAKE_CURRENT_SOURCE_DIR}/cli/plant_disagreement.py
                   ${_pl}/i.npy ${_pl}/w.npy ${_pl}/logits.npy 17 ${_pl})
  set_tests_properties(cli.compare_planted_plant PROPERTIES LABELS cli
                       FIXTURES_REQUIRED cli_planted_route FIXTURES_SETUP cli_planted)

  # --- the planted disagreement is found, named, dumped; exit status 1 -----------------------
  moerouter_cli_test(compare_planted_found fail FIXTURES_REQUIRED cli_planted
                     FIXTURES_SETUP cli_planted_dump PRESENT ${_pl}/planted.json
                     STDOUT "b = file:.*planted_ids\\.npy.*b: precomputed outputs, 40 rows.*logits bit-equal: n/a.*ids differ: 1 rows \\(0 inside the near-tie band, 1 outside\\).*b 0 exact, 0 near-tie, 1 mismatch.*dumped 1 of 1 differing rows.*contract: BROKEN"
                     STDERR "b \\(file:.*\\) has ids outside the near-tie band on 1 rows \\(first: .*row 17"
                     ARGS compare ${_pl_in} --a cpu:canonical
                          --b file:${_pl}/w.npy,${_pl}/planted_ids.npy --dump ${_pl}/planted.json)
  add_test(NAME cli.compare_planted_dump_names_row
           COMMAND ${_numpy_python} -c "import json,sys; r=json.load(open(sys.argv[1]))['rows']; assert [x['row'] for x in r]==[17], r; assert r[0]['a']['ids']!=r[0]['b']['ids'] and 'logits' not in r[0]['b'], r[0]"
                   ${_pl}/planted.json)
  set_tests_properties(cli.compare_planted_dump_names_row PROPERTIES LABELS cli
                       FIXTURES_REQUIRED cli_planted_dump)
  moerouter_cli_test(compare_planted_vs_oracle fail FIXTURES_REQUIRED cli_planted TIMEOUT 600
                     STDOUT "a = oracle, b = file:.*b [0-9]+ exact, [0-9]+ near-tie, 1 mismatch.*contract: BROKEN"
                     STDERR "has ids outside the near-tie band on 1 rows.*row 17"
                     ARGS compare ${_pl_in} --a oracle --b file:${_pl}/w.npy,${_pl}/planted_ids.npy
                          --dump ${_pl}/planted_oracle.json)

  # --- clean pairs exit 0: the unplanted outputs, as int32 and as int64 ----------------------
  moerouter_cli_test(compare_planted_clean ok FIXTURES_REQUIRED cli_planted
                     ABSENT ${_pl}/clean.json
                     STDOUT "rows compared: 40; bit-equal \\(weights\\+ids\\): 40.*ids differ: 0 rows.*contract: holds \\(no id difference outside the near-tie band\\)"
                     ARGS compare ${_pl_in} --a cpu:canonical --b file:${_pl}/w.npy,${_pl}/i.npy
                          --dump ${_pl}/clean.json)
  moerouter_cli_test(compare_planted_clean_int64 ok FIXTURES_REQUIRED cli_planted
                     STDOUT "ids differ: 0 rows.*contract: holds"
                     ARGS compare ${_pl_in} --a file:${_pl}/w.npy,${_pl}/ids_i64.npy --b cpu:fp32
                          --dump ${_pl}/clean64.json)
  moerouter_cli_test(compare_planted_clean_vs_oracle ok FIXTURES_REQUIRED cli_planted TIMEOUT 600
                     STDOUT "b [0-9]+ exact, [0-9]+ near-tie, 0 mismatch.*contract: holds"
                     ARGS compare ${_pl_in} --a oracle --b file:${_pl}/w.npy,${_pl}/i.npy
                          --dump ${_pl}/clean_oracle.json)

  # --- bad file sides: one line on stderr ------------------------------------------------------
  moerouter_cli_test(bad_compare_file_spec fail STDERR "--b: expected file:WEIGHTS\\.npy,IDS\\.npy, got 'file:only\\.npy'"
                     ARGS compare --preset mixtral --n 4 --a cpu:canonical --b file:only.npy)
  moerouter_cli_test(bad_compare_file_shape fail FIXTURES_REQUIRED cli_planted
                     STDERR "ids_wrong_shape\\.npy.*shape"
                     ARGS compare ${_pl_in} --a cpu:canonical --b file:${_pl}/w.npy,${_pl}/ids_wrong_shape.npy)
  moerouter_cli_test(bad_compare_file_missing fail FIXTURES_REQUIRED cli_planted
                     STDERR "no_such\\.npy"
                     ARGS compare ${_pl_in} --a cpu:canonical --b file:${_pl}/no_such.npy,${_pl}/i.npy)
endif()
