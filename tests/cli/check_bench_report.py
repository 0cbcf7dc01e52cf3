#!/usr/bin/env python3
"""Smoke test of tools/bench/report.py on fixture rows (tests/cli/bench_report_*.jsonl): the join
on device/preset/N (and threads on the CPU), the ratios, and the markdown shape; that the table
needs no matplotlib, and that --plot without it fails with one line before printing anything.
With --plot: report.py --plot on synthetic rows (2 presets, 2 gemm modes, 4 N, PyTorch rows and a
second device) writes a PNG of a plausible size, and the table on stdout is the same as without.

usage: check_bench_report.py REPORT_PY MOEROUTER_JSONL TORCH_JSONL
       check_bench_report.py --plot REPORT_PY OUT.png      (needs matplotlib)
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

# Runs a script as __main__ with `import matplotlib` failing, as on a machine without it.
NO_MATPLOTLIB = ("import runpy, sys; sys.modules['matplotlib'] = None; sys.argv = sys.argv[1:]; "
                 "runpy.run_path(sys.argv[0], run_name='__main__')")


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    print("command:", " ".join(cmd), "\nexit status:", p.returncode, "\n--- stdout ---\n" + p.stdout +
          "--- stderr ---\n" + p.stderr)
    return p


def synthetic_rows():
    """CUDA rows whose times and floors vary with preset, mode and N (a constant would hide a
    mixed-up axis), PyTorch rows for two variants, and one CPU row the plot must leave out."""
    bench, torch = [], []
    for p, (preset, scale) in enumerate([("dsv4-pro", 1.0), ("dsv3", 0.7)]):
        for gemm, speed in [("fp32", 1.0), ("bf16", 0.25)]:
            for n in [1, 16, 256, 4096]:
                floor = (2.0 + 0.08 * n) * scale * speed
                bench.append({"device": "cuda", "device_name": "Test GPU", "preset": preset, "gemm": gemm,
                              "n": n, "threads": None, "us_median": floor * (3.0 - 0.3 * p) + 1.5 * n ** 0.5,
                              "floor_us": floor, "kernel": "test", "graph": n <= 64})
        for impl, overhead in [("torch-eager", 120.0), ("torch-graph", 40.0)]:
            torch += [{"device": "cuda", "preset": preset, "n": n, "impl": impl,
                       "us_median": overhead * scale + 0.4 * n} for n in [1, 16, 256, 4096]]
    bench.append({"device": "cpu", "device_name": "Test CPU", "preset": "dsv4-pro", "gemm": "canonical", "n": 16,
                  "threads": 2, "us_median": 900.0, "floor_us": 300.0, "kernel": "avx2"})
    times = [r["us_median"] for r in bench + torch]
    assert len(set(times)) == len(times), "synthetic times must all differ"
    return bench, torch


def check_plot(report, out):
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if os.path.exists(out):
        os.remove(out)  # a PNG left by an earlier run must not pass for this one's
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, rows in zip(["bench", "torch"], synthetic_rows()):
            paths.append(os.path.join(tmp, name + ".jsonl"))
            with open(paths[-1], "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
        base = [sys.executable, report, "--bench", paths[0], "--torch", paths[1], "--date", "2026-01-01"]
        plain, plotted = run(base), run(base + ["--plot", out])
    assert plain.returncode == 0 and plotted.returncode == 0, (plain.returncode, plotted.returncode)
    assert plotted.stdout == plain.stdout, "--plot changed the markdown on stdout"
    assert "cuda only" in plotted.stderr and "cpu" in plotted.stderr, "expected a note that cpu rows are not plotted"
    assert os.path.isfile(out), f"{out} was not written"
    with open(out, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{out} is not a PNG: starts with {head[:8]!r}"
    assert head[12:16] == b"IHDR", f"{out}: no IHDR chunk first"
    width, height = struct.unpack(">II", head[16:24])
    assert width > 300 and height > 300, f"{out}: {width} x {height} px is too small for a plot"
    print(f"report.py --plot: ok ({width} x {height} px)")


def main():
    if sys.argv[1] == "--plot":
        check_plot(*sys.argv[2:4])
        return
    report, bench, torch = sys.argv[1:4]
    args = [report, "--bench", bench, "--torch", torch, "--date", "2026-01-01"]
    p = subprocess.run([sys.executable] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    print(p.stdout + p.stderr)
    assert p.returncode == 0, p.returncode
    # Without matplotlib: the table as before; --plot fails at once with one line and no table.
    bare = run([sys.executable, "-c", NO_MATPLOTLIB] + args)
    assert bare.returncode == 0 and bare.stdout == p.stdout, "the table must not need matplotlib"
    bare = run([sys.executable, "-c", NO_MATPLOTLIB] + args + ["--plot", os.devnull])
    assert bare.returncode == 2 and bare.stdout == "", bare.returncode
    assert bare.stderr == "report.py: --plot needs matplotlib (apt-get install python3-matplotlib)\n", bare.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "### moerouter bench (2026-01-01)", lines[0]
    assert any("NVIDIA H100 80GB HBM3: copy 2800 GB/s, SGEMM 48.0 TFLOP/s, BF16 GEMM 600" in l for l in lines)
    assert any("a graph of one empty kernel 2.50 µs" in l for l in lines), "expected the launch floor"
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
