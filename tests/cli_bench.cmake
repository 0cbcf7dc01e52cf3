# CTest tests of `moerouter bench` and the bench scripts (label: cli). Included from
# tests/CMakeLists.txt after cli.cmake (moerouter_cli_test, _out). Timings are not judged here
# (the machine may be busy); the tests check that rows come out complete and consistent, that bad
# arguments fail at once with one line, and that --plot and report.py produce their files.

# Any python3 runs the JSON checks (standard library only); /usr/bin/python3 first, as Debian's
# matplotlib belongs to it.
set(_bench_python "")
foreach(candidate /usr/bin/python3 python3)
  execute_process(COMMAND ${candidate} -c "import json" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
  if(_rc EQUAL 0)
    set(_bench_python ${candidate})
    break()
  endif()
endforeach()

set(_bench_check ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_bench.py)
set(_bench_tools ${PROJECT_SOURCE_DIR}/tools/bench)

if(TARGET moerouter_cli)
  set(_bench_out ${_out}/bench)
  moerouter_cli_test(help_bench ok STDOUT "Usage: .*bench.*--device.*--preset.*--n.*--gemm.*--threads.*--min-time.*--json.*--plot"
                     ARGS bench --help)
  moerouter_cli_test(bench_cpu_table ok TIMEOUT 300
                     STDOUT "cpu: .*FMA peak.*GFLOP/s.*preset +gemm +N.*floor us.*\nmixtral +canonical +1 .*\nmixtral +canonical +4 "
                     ARGS bench --device cpu --preset mixtral --n 1,4 --min-time 0.02)

  # Bad arguments: one line on stderr, non-zero exit, before anything is measured.
  moerouter_cli_test(bad_bench_preset fail STDERR "preset.*dsv4-pro" ARGS bench --device cpu --preset nonsense)
  moerouter_cli_test(bad_bench_gemm fail STDERR "gemm.*fp8|fp8.*gemm" ARGS bench --device cpu --preset mixtral --gemm canonical,fp8)
  moerouter_cli_test(bad_bench_n_zero fail STDERR "--n.*>= 1.*0" ARGS bench --device cpu --preset mixtral --n 1,0)
  moerouter_cli_test(bad_bench_n_text fail STDERR "--n" ARGS bench --device cpu --preset mixtral --n 1,abc)
  moerouter_cli_test(bad_bench_device fail STDERR "device" ARGS bench --device tpu --preset mixtral)
  moerouter_cli_test(bad_bench_threads fail STDERR "--threads" ARGS bench --device cpu --preset mixtral --threads -1)
  moerouter_cli_test(bad_bench_min_time fail STDERR "--min-time" ARGS bench --device cpu --preset mixtral --min-time -1)
  moerouter_cli_test(bad_bench_plot_dir fail STDERR "--plot.*no_such_dir"
                     ARGS bench --device cpu --preset mixtral --n 1 --plot ${_bench_out}/no_such_dir/p.png)

  if(_bench_python)
    # The JSON lines: 2 N x 2 modes = 4 rows with every documented key, consistent values.
    add_test(NAME cli.bench_cpu_json
             COMMAND ${_bench_python} ${_bench_check} json 4 -- $<TARGET_FILE:moerouter_cli> bench --device cpu
                     --preset mixtral --n 1,16 --gemm canonical,fp32 --json --min-time 0.05)
    set_tests_properties(cli.bench_cpu_json PROPERTIES LABELS cli TIMEOUT 300)
    # --device cuda: rows from a GPU where there is one; otherwise (no device, or a build without
    # the CUDA backend) a one-line error naming CUDA. Either way never a crash.
    add_test(NAME cli.bench_cuda_or_clean_error
             COMMAND ${_bench_python} ${_bench_check} cuda -- $<TARGET_FILE:moerouter_cli> bench --device cuda
                     --preset mixtral --n 1,128 --gemm canonical,fp32,bf16 --json --min-time 0.02)
    set_tests_properties(cli.bench_cuda_or_clean_error PROPERTIES LABELS cli TIMEOUT 300)

    add_test(NAME cli.bench_report_py
             COMMAND ${_bench_python} ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_bench_report.py
                     ${_bench_tools}/report.py ${CMAKE_CURRENT_SOURCE_DIR}/cli/bench_report_moerouter.jsonl
                     ${CMAKE_CURRENT_SOURCE_DIR}/cli/bench_report_torch.jsonl)
    set_tests_properties(cli.bench_report_py PROPERTIES LABELS cli)

    # --plot needs matplotlib (Debian's python3-matplotlib); without it the tests are not added.
    execute_process(COMMAND ${_bench_python} -c "import matplotlib" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
    if(_rc EQUAL 0)
      moerouter_cli_test(bench_plot ok TIMEOUT 300 FIXTURES_SETUP cli_bench_plot PRESENT ${_bench_out}/plot.png
                         ARGS bench --device cpu --preset mixtral,qwen3-moe --n 1,4 --gemm canonical,fp32
                              --min-time 0.02 --plot ${_bench_out}/plot.png)
      add_test(NAME cli.bench_plot_is_png COMMAND ${_bench_python} ${_bench_check} png ${_bench_out}/plot.png)
      set_tests_properties(cli.bench_plot_is_png PROPERTIES LABELS cli FIXTURES_REQUIRED cli_bench_plot)
      # The script on its own, with PyTorch rows mixed in (the report's plot).
      add_test(NAME cli.bench_plot_py_with_torch
               COMMAND ${_bench_python} ${_bench_tools}/plot_bench.py --out ${_bench_out}/report.png
                       ${CMAKE_CURRENT_SOURCE_DIR}/cli/bench_report_moerouter.jsonl
                       ${CMAKE_CURRENT_SOURCE_DIR}/cli/bench_report_torch.jsonl)
      set_tests_properties(cli.bench_plot_py_with_torch PROPERTIES LABELS cli)
      # report.py --plot (the README's plot) on synthetic rows: a PNG, the same table on stdout.
      add_test(NAME cli.bench_report_py_plot
               COMMAND ${_bench_python} ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_bench_report.py --plot
                       ${_bench_tools}/report.py ${_bench_out}/report_plot.png)
      set_tests_properties(cli.bench_report_py_plot PROPERTIES LABELS cli)
    else()
      message(STATUS "moerouter: no matplotlib for ${_bench_python}; cli.bench_plot* and cli.bench_report_py_plot are not added")
    endif()
  endif()
endif()
