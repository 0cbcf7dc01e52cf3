# CTest tests of `moerouter compare` and `moerouter check` (label: cli). Included from
# tests/CMakeLists.txt after cli.cmake (moerouter_cli_test, _out, _numpy_python) and
# cli_checkpoint.cmake (the checkpoint fixtures, cli_ckpt).

if(TARGET moerouter_cli)
  set(_cmp ${_out}/compare)
  moerouter_cli_test(help_inspect ok STDOUT "Usage: .*inspect.*--checkpoint" ARGS inspect --help)
  moerouter_cli_test(help_compare ok STDOUT "Usage: .*compare.*--a.*--b.*--checkpoint.*--sample.*--dump" ARGS compare --help)
  moerouter_cli_test(help_check ok STDOUT "Usage: .*check.*--checkpoint.*--their-ids.*--unordered.*--max-report" ARGS check --help)

  # --- compare: clean pairs exit 0 -----------------------------------------------------------
  moerouter_cli_test(compare_canonical_threads ok
                     STDOUT "rows compared: 96; bit-equal \\(weights\\+ids\\): 96; logits bit-equal: 96.*contract: holds \\(canonical on both sides"
                     ABSENT ${_cmp}/threads.json
                     ARGS compare --preset dsv4-flash --n 96 --a cpu:canonical --a-threads 1
                          --b cpu:canonical --b-threads 2 --dump ${_cmp}/threads.json)
  moerouter_cli_test(compare_fp32_oracle ok TIMEOUT 600
                     STDOUT "a = cpu:fp32, b = oracle.*float64 oracle judged 48 rows: a .* 0 mismatch.*expert load.*contract: holds"
                     ARGS compare --preset dsv3 --n 48 --a cpu:fp32 --b oracle --dump ${_cmp}/fp32.json)
  moerouter_cli_test(compare_oracle_sample_adversarial ok TIMEOUT 600
                     STDOUT "rows compared: 16 \\(strided sample\\).*0 outside.*contract: holds"
                     ARGS compare --preset dsv4-flash --n 64 --kind adversarial --a oracle --b cpu:canonical
                          --sample 16 --dump ${_cmp}/adv.json)
  moerouter_cli_test(compare_bf16_oracle ok TIMEOUT 600
                     STDOUT "rounded to bfloat16 for the bf16 side.*0 outside.*contract: holds"
                     ARGS compare --preset qwen3-moe --n 32 --a cpu:bf16 --b oracle --dump ${_cmp}/bf16.json)
  moerouter_cli_test(compare_fp32_canonical_hash ok
                     STDOUT "generated x, weight, bias, token ids.*0 outside.*contract: holds"
                     ARGS compare --preset dsv4-flash --n 64 --kind integer --hash-vocab 50 --sample 8
                          --a cpu:fp32 --b cpu:canonical --dump ${_cmp}/hash.json)
  moerouter_cli_test(bad_compare_oracle_twice fail STDERR "oracle twice" ARGS compare --preset mixtral --a oracle)
  moerouter_cli_test(bad_compare_side fail STDERR "--a.*DEVICE\\[:MODE\\].*'cpu:fp8'"
                     ARGS compare --preset mixtral --a cpu:fp8)
  if(NOT MOEROUTER_WITH_CUDA)
    moerouter_cli_test(bad_compare_cuda_not_built fail STDERR "cuda"
                       ARGS compare --preset mixtral --n 4 --a cuda:canonical --b cpu:canonical)
  endif()

  if(_numpy_python)
    set(_ck ${_out}/ckpt)
    # Mirrored experts on palindromic rows tie exactly; the two FP32 summation orders split the
    # ties differently: ids differ, all inside the band, contract holds, the rows are dumped.
    moerouter_cli_test(compare_near_ties_dumped ok FIXTURES_REQUIRED cli_ckpt
                       FIXTURES_SETUP cli_compare_dump PRESENT ${_cmp}/ties.json
                       STDOUT "ids differ: [1-9][0-9]* rows \\([1-9][0-9]* inside the near-tie band, 0 outside\\).*near-tie.*dumped 5 of .*contract: holds"
                       ARGS compare --x ${_ck}/tie_x.npy --weight ${_ck}/tie_w.npy --hidden 64 --experts 4
                            --top-k 1 --score softmax --a cpu:canonical --b cpu:fp32
                            --dump ${_cmp}/ties.json --dump-rows 5)
    add_test(NAME cli.compare_dump_readable
             COMMAND ${_numpy_python} -c "import json,sys; d=json.load(open(sys.argv[1])); r=d['rows']; assert len(r)==5, len(r); assert all(len(x['x'])==64 and len(x['a']['logits'])==4 and x['a']['ids']!=x['b']['ids'] and 'near-tie' in x['a']['oracle_judgement']+x['b']['oracle_judgement'] for x in r), r[0]"
                     ${_cmp}/ties.json)
    set_tests_properties(cli.compare_dump_readable PROPERTIES LABELS cli FIXTURES_REQUIRED cli_compare_dump)
    moerouter_cli_test(compare_checkpoint_oracle ok FIXTURES_REQUIRED cli_ckpt
                       STDOUT "checkpoint '.*' layer 1 \\(hf naming\\).*rows compared: 50.*0 outside.*contract: holds"
                       ARGS compare --checkpoint ${_ck}/hf --layer 1 --x ${_ck}/x.npy --a cpu:canonical
                            --b oracle --dump ${_cmp}/ckpt.json)
    moerouter_cli_test(compare_checkpoint_hash_generated_x ok FIXTURES_REQUIRED cli_ckpt
                       STDOUT "hash-routed.*generated x, token ids.*contract: holds"
                       ARGS compare --checkpoint ${_ck}/ds --layer 0 --score sqrtsoftplus --n 40
                            --a cpu:fp32 --b oracle --dump ${_cmp}/ckpt_hash.json)

    # --- check: the golden-reference service ------------------------------------------------
    # Golden inputs and oracle logits, another router's outputs (ours in fp32 mode), variants.
    set(_chk ${_out}/check)
    moerouter_cli_test(check_golden ok FIXTURES_SETUP cli_check_golden
                       ARGS golden --preset dsv4-flash --n 48 --seed 21 --out ${_chk})
    moerouter_cli_test(check_their_route ok FIXTURES_REQUIRED cli_check_golden
                       FIXTURES_SETUP cli_check_theirs PRESENT ${_chk}/their_w.npy ${_chk}/their_i.npy
                       ARGS route --preset dsv4-flash --x ${_chk}/x.npy --weight ${_chk}/weight.npy
                            --bias ${_chk}/bias.npy --gemm fp32 --out-weights ${_chk}/their_w.npy
                            --out-ids ${_chk}/their_i.npy)
    add_test(NAME cli.check_plant
             COMMAND ${_numpy_python} ${CMAKE_CURRENT_SOURCE_DIR}/cli/plant_disagreement.py
                     ${_chk}/their_i.npy ${_chk}/their_w.npy ${_chk}/logits.npy 13 ${_chk})
    set_tests_properties(cli.check_plant PROPERTIES LABELS cli FIXTURES_REQUIRED cli_check_theirs
                         FIXTURES_SETUP cli_check_planted)

    set(_in --preset dsv4-flash --x ${_chk}/x.npy --weight ${_chk}/weight.npy --bias ${_chk}/bias.npy)
    moerouter_cli_test(check_correct ok FIXTURES_REQUIRED cli_check_theirs
                       STDOUT "judged 48 of 48 rows: [0-9]+ exact, [0-9]+ near-tie, 0 mismatch, 0 weight errors.*check: passed"
                       ARGS check ${_in} --their-ids ${_chk}/their_i.npy --their-weights ${_chk}/their_w.npy)
    moerouter_cli_test(check_planted_mismatch fail FIXTURES_REQUIRED cli_check_planted
                       STDOUT "1 mismatch.*row 13: expected \\[.*\\] got \\[.*\\]; gap .* vs band .*mismatch.*check: FAILED"
                       STDERR "check: 1 rows with ids outside the near-tie band.*row 13"
                       ARGS check ${_in} --their-ids ${_chk}/planted_ids.npy --their-weights ${_chk}/their_w.npy)
    moerouter_cli_test(check_unordered ok FIXTURES_REQUIRED cli_check_planted
                       STDOUT "\\(ids as sets\\).*0 mismatch.*check: passed"
                       ARGS check ${_in} --their-ids ${_chk}/shuffled_ids.npy
                            --their-weights ${_chk}/shuffled_weights.npy --unordered)
    moerouter_cli_test(check_shuffled_needs_unordered fail FIXTURES_REQUIRED cli_check_planted
                       STDERR "outside the near-tie band"
                       ARGS check ${_in} --their-ids ${_chk}/shuffled_ids.npy --max-report 3)
    moerouter_cli_test(check_int64_ids ok FIXTURES_REQUIRED cli_check_planted
                       STDOUT "\\(no weights\\).*0 mismatch.*check: passed"
                       ARGS check ${_in} --their-ids ${_chk}/ids_i64.npy)
    moerouter_cli_test(check_sample ok FIXTURES_REQUIRED cli_check_theirs
                       STDOUT "judged 6 of 48 rows"
                       ARGS check ${_in} --their-ids ${_chk}/their_i.npy --their-weights ${_chk}/their_w.npy
                            --sample 6)
    moerouter_cli_test(check_weight_error fail FIXTURES_REQUIRED cli_check_theirs
                       STDOUT "48 weight errors.*weight error: row 0:"
                       STDERR "48 rows with weight errors above 4096 ulp"
                       ARGS check ${_in} --their-ids ${_chk}/their_i.npy --their-weights ${_chk}/weights.npy
                            --scale 1.0 --max-report 2)
    moerouter_cli_test(bad_check_ids_shape fail FIXTURES_REQUIRED cli_check_planted
                       STDERR "--their-ids.*ids_wrong_shape\\.npy.*shape: expected \\[48, 6\\], got \\[48, 5\\]"
                       ARGS check ${_in} --their-ids ${_chk}/ids_wrong_shape.npy)
    # Their router on a checkpoint layer (ours again): check reads the same checkpoint.
    moerouter_cli_test(check_route_checkpoint ok FIXTURES_REQUIRED cli_ckpt FIXTURES_SETUP cli_check_ckpt_route
                       PRESENT ${_chk}/ck_w.npy ${_chk}/ck_i.npy
                       ARGS route --checkpoint ${_ck}/ds --layer 0 --score sqrtsoftplus --x ${_ck}/x.npy
                            --token-ids ${_ck}/token_ids.npy --out-weights ${_chk}/ck_w.npy
                            --out-ids ${_chk}/ck_i.npy)
    moerouter_cli_test(check_checkpoint ok FIXTURES_REQUIRED cli_check_ckpt_route
                       STDOUT "hash-routed.*judged 50 of 50 rows: 50 exact.*check: passed"
                       ARGS check --checkpoint ${_ck}/ds --layer 0 --score sqrtsoftplus --x ${_ck}/x.npy
                            --token-ids ${_ck}/token_ids.npy --their-ids ${_chk}/ck_i.npy
                            --their-weights ${_chk}/ck_w.npy)
  endif()
endif()
