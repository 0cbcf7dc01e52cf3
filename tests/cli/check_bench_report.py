#!/usr/bin/env python3
"""Smoke test of tools/bench/report.py on fixture rows (tests/cli/bench_report_*.jsonl): the join
on device/preset/N (and threads on the CPU), the ratios, and the markdown shape.

usage: check_bench_report.py REPORT_PY MOEROUTER_JSONL TORCH_JSONL
"""
import subprocess
import sys


def main():
    report, bench, torch = sys.argv[1:4]
    p = subprocess.run([sys.executable, report, "--bench", bench, "--torch", torch, "--date", "2026-01-01"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    print(p.stdout + p.stderr)
    assert p.returncode == 0, p.returncode
    lines = p.stdout.splitlines()
    assert lines[0] == "### moerouter bench (2026-01-01)", lines[0]
    assert any("NVIDIA H100 80GB HBM3: copy 2800 GB/s, SGEMM 48.0 TFLOP/s, BF16 GEMM 600" in l for l in lines)
    # One table per device, in order of appearance, each with the PyTorch variants of its device.
    tables, current = [], None
    for l in lines:
        if l.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            current.append([c.strip() for c in l.strip("|").split("|")])
        else:
            current = None
    assert len(tables) == 2, tables
    cuda, cpu = tables
    assert cuda[0] == ["preset", "N", "gemm", "moerouter µs", "floor µs", "× floor", "cuBLAS alone µs",
                       "× cuBLAS", "kernel", "torch-eager µs", "speed-up vs torch-eager", "torch-graph µs",
                       "speed-up vs torch-graph"], cuda[0]
    assert cpu[0] == ["preset", "N", "gemm", "threads", "moerouter µs", "floor µs", "× floor", "kernel",
                      "torch-cpu µs", "speed-up vs torch-cpu"], cpu[0]
    by = {("cuda", r[1], "–"): dict(zip(cuda[0], r)) for r in cuda[2:]}
    by.update({("cpu", r[1], r[3]): dict(zip(cpu[0], r)) for r in cpu[2:]})
    assert len(by) == 4, by
    n1 = by[("cuda", "1", "–")]
    assert n1["× floor"] == "2.00" and n1["kernel"] == "cublas-bf16 (graph)", n1
    assert n1["speed-up vs torch-eager"] == "24.20×" and n1["speed-up vs torch-graph"] == "8.40×", n1
    assert n1["cuBLAS alone µs"] == "–" and n1["× cuBLAS"] == "–", n1  # not in that row
    big = by[("cuda", "16384", "–")]
    assert big["cuBLAS alone µs"] == "1600" and big["× cuBLAS"] == "1.25", big
    assert big["speed-up vs torch-eager"] == "1.28×" and big["torch-graph µs"] == "–", big
    cpu2 = by[("cpu", "256", "2")]
    assert cpu2["torch-cpu µs"] == "28000" and cpu2["speed-up vs torch-cpu"] == "3.50×", cpu2
    cpu1 = by[("cpu", "256", "1")]  # the baseline ran with 2 threads: no comparison
    assert cpu1["torch-cpu µs"] == "–", cpu1
    print("report.py: ok")


if __name__ == "__main__":
    main()
