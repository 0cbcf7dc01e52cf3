# CTest tests of `moerouter inspect` and `moerouter route --checkpoint` (label: cli). Included from
# tests/CMakeLists.txt after cli.cmake, whose moerouter_cli_test() and variables it uses. The
# checkpoints (both namings, sharded with an index, malformed ones) and the same tensors as .npy
# are written by tests/cli/make_checkpoint_fixtures.py; routing a checkpoint layer must give
# byte-identical files to routing its tensors given as .npy.

if(TARGET moerouter_cli AND _numpy_python)
  set(_ck ${_out}/ckpt)
  add_test(NAME cli.checkpoint_fixtures
           COMMAND ${_numpy_python} ${CMAKE_CURRENT_SOURCE_DIR}/cli/make_checkpoint_fixtures.py ${_ck})
  set_tests_properties(cli.checkpoint_fixtures PROPERTIES LABELS cli FIXTURES_SETUP cli_ckpt)

  # --- inspect -------------------------------------------------------------------------------
  moerouter_cli_test(inspect_hf ok FIXTURES_REQUIRED cli_ckpt
                     STDOUT "2 shards, 8 tensors, 2 router layers.*layer 1: scored, hf naming.*model\\.layers\\.1\\.mlp\\.gate\\.weight \\[16, 64\\] BF16.*model\\.layers\\.1\\.mlp\\.gate\\.e_score_correction_bias \\[16\\] F32.*layer 2: scored.*suggested config.*hidden=64 experts=16 top_k=4 score=sigmoid groups=4 topk_groups=2"
                     ARGS inspect --checkpoint ${_ck}/hf)
  moerouter_cli_test(inspect_deepseek ok FIXTURES_REQUIRED cli_ckpt
                     STDOUT "1 shard, 5 tensors, 2 router layers.*layer 0: hash-routed, deepseek naming.*bias +none.*tid2eid +layers\\.0\\.ffn\\.gate\\.tid2eid \\[100, 4\\] I32.*layer 1: scored, deepseek naming.*layers\\.1\\.ffn\\.gate\\.bias \\[16\\] F32"
                     ARGS inspect --checkpoint ${_ck}/ds)
  moerouter_cli_test(inspect_single_file ok FIXTURES_REQUIRED cli_ckpt
                     STDOUT "1 shard, 4 tensors, 1 router layers.*layer 2: scored"
                     ARGS inspect --checkpoint ${_ck}/hf/model-00002-of-00002.safetensors)
  moerouter_cli_test(bad_inspect_overlap fail FIXTURES_REQUIRED cli_ckpt
                     STDERR "overlap\\.safetensors.*overlapping data ranges.*layers\\.0\\.ffn\\.gate\\.weight"
                     ARGS inspect --checkpoint ${_ck}/bad/overlap.safetensors)
  moerouter_cli_test(bad_inspect_truncated fail FIXTURES_REQUIRED cli_ckpt
                     STDERR "trunc\\.safetensors.*layers\\.0\\.ffn\\.gate\\.weight.*offsets out of file"
                     ARGS inspect --checkpoint ${_ck}/bad/trunc.safetensors)
  moerouter_cli_test(bad_inspect_missing fail STDERR "no such file or directory"
                     ARGS inspect --checkpoint ${_out}/no_such_checkpoint)

  # --- route --checkpoint == route --weight/--bias/--hash-table, byte for byte -----------------
  # Each case: tag, checkpoint args, the equivalent .npy args; both run with the same config args.
  # hf layer 1: config from config.json on the checkpoint side, explicit on the .npy side; the bias
  # sits at an odd offset in its shard (the aligned-copy path). ds layer 0: hash-routed, top_k from
  # the tid2eid shape. ds layer 1: bf16 x, fp32 gemm.
  set(_hf_cfg --hidden 64 --experts 16 --top-k 4 --score sigmoid --groups 4 --topk-groups 2 --scale 2.5)
  string(JOIN " " _hf_cfg_text ${_hf_cfg})  # inside the "|"-separated case strings below
  set(_cases
      "hf1|--checkpoint ${_ck}/hf --layer 1|${_hf_cfg_text} --weight ${_ck}/hf_w1.npy --bias ${_ck}/hf_b1.npy|--x ${_ck}/x.npy"
      "hf2|--checkpoint ${_ck}/hf --layer 2 --threads 1|${_hf_cfg_text} --weight ${_ck}/hf_w2.npy --bias ${_ck}/hf_b2.npy --threads 2|--x ${_ck}/x.npy"
      "ds0|--checkpoint ${_ck}/ds --layer 0 --score sqrtsoftplus --scale 1.5|--hidden 64 --experts 16 --top-k 4 --score sqrtsoftplus --scale 1.5 --weight ${_ck}/ds_w0.npy --hash-table ${_ck}/ds_tid2eid0.npy|--x ${_ck}/x.npy --token-ids ${_ck}/token_ids.npy"
      "ds1|--checkpoint ${_ck}/ds --layer 1 --top-k 4 --score sqrtsoftplus|--hidden 64 --experts 16 --top-k 4 --score sqrtsoftplus --weight ${_ck}/ds_w1.npy --bias ${_ck}/ds_b1.npy|--x ${_ck}/x_bf16.npy --gemm fp32")
  foreach(c IN LISTS _cases)
    string(REPLACE "|" ";" c "${c}")
    list(GET c 0 tag)
    list(GET c 1 ck_args)
    list(GET c 2 npy_args)
    list(GET c 3 common)
    separate_arguments(ck_args)
    separate_arguments(npy_args)
    separate_arguments(common)
    foreach(side ckpt npy)
      set(p ${_ck}/route_${tag}_${side})
      if(side STREQUAL "ckpt")
        set(args ${ck_args})
        set(stdout "checkpoint '.*' layer .*50 rows")
      else()
        set(args ${npy_args})
        set(stdout "50 rows")
      endif()
      moerouter_cli_test(route_checkpoint_${tag}_${side} ok FIXTURES_REQUIRED cli_ckpt
                         FIXTURES_SETUP cli_ckpt_route_${tag} STDOUT "${stdout}"
                         PRESENT ${p}_w.npy ${p}_i.npy ${p}_l.npy
                         ARGS route ${args} ${common} --device cpu --out-weights ${p}_w.npy
                              --out-ids ${p}_i.npy --out-logits ${p}_l.npy)
    endforeach()
    foreach(what w i l)
      add_test(NAME cli.route_checkpoint_${tag}_identical_${what}
               COMMAND ${CMAKE_COMMAND} -E compare_files ${_ck}/route_${tag}_ckpt_${what}.npy
                       ${_ck}/route_${tag}_npy_${what}.npy)
      set_tests_properties(cli.route_checkpoint_${tag}_identical_${what} PROPERTIES
                           LABELS cli FIXTURES_REQUIRED cli_ckpt_route_${tag})
    endforeach()
  endforeach()

  # --- bad checkpoint use: one line on stderr, no output ---------------------------------------
  function(moerouter_cli_bad_checkpoint name stderr)
    set(o ${_out}/bad_ckpt_${name})
    moerouter_cli_test(bad_checkpoint_${name} fail FIXTURES_REQUIRED cli_ckpt STDERR "${stderr}"
                       ABSENT ${o}/w.npy ${o}/i.npy
                       ARGS route ${ARGN} --out-weights ${o}/w.npy --out-ids ${o}/i.npy)
  endfunction()
  moerouter_cli_bad_checkpoint(no_such_layer "router layers \\[1 2\\], got 7"
                               --checkpoint ${_ck}/hf --layer 7 --x ${_ck}/x.npy)
  moerouter_cli_bad_checkpoint(layer_required "--layer.*\\[0 1\\]"
                               --checkpoint ${_ck}/ds --x ${_ck}/x.npy --top-k 4 --score sigmoid)
  moerouter_cli_bad_checkpoint(shape_vs_preset
                               "model\\.layers\\.1\\.mlp\\.gate\\.weight'?: shape: expected \\[256, 4096\\].*got \\[16, 64\\]"
                               --checkpoint ${_ck}/hf --layer 1 --preset dsv4-flash --x ${_ck}/x.npy)
  moerouter_cli_bad_checkpoint(x_vs_checkpoint "--x.*shape: expected \\[\\*, 64\\]"
                               --checkpoint ${_ck}/hf --layer 1 --x ${_ck}/hf_b1.npy)
  moerouter_cli_bad_checkpoint(hash_layer_needs_tokens "tid2eid.*expected --token-ids"
                               --checkpoint ${_ck}/ds --layer 0 --x ${_ck}/x.npy --score sigmoid)
  moerouter_cli_bad_checkpoint(tokens_on_scored_layer "--token-ids.*not hash-routed"
                               --checkpoint ${_ck}/ds --layer 1 --x ${_ck}/x.npy --top-k 4 --score sigmoid
                               --token-ids ${_ck}/token_ids.npy)
  moerouter_cli_bad_checkpoint(config_incomplete "--top-k --score.*tensor shapes"
                               --checkpoint ${_ck}/ds --layer 1 --x ${_ck}/x.npy)
  moerouter_cli_bad_checkpoint(with_weight "excludes"
                               --checkpoint ${_ck}/hf --layer 1 --x ${_ck}/x.npy --weight ${_ck}/hf_w1.npy)
  moerouter_cli_bad_checkpoint(layer_without_checkpoint "--layer.*--checkpoint"
                               ${_hf_cfg} --layer 1 --x ${_ck}/x.npy --weight ${_ck}/hf_w1.npy)
  moerouter_cli_bad_checkpoint(neither_weight_nor_checkpoint "--weight.*--checkpoint"
                               ${_hf_cfg} --x ${_ck}/x.npy)
  moerouter_cli_bad_checkpoint(corrupt "overlapping data ranges"
                               --checkpoint ${_ck}/bad/overlap.safetensors --x ${_ck}/x.npy --top-k 1
                               --score sigmoid)
elseif(TARGET moerouter_cli)
  message(STATUS "moerouter: no python3 with numpy; the checkpoint CLI tests are not added")
endif()
