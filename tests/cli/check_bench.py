#!/usr/bin/env python3
"""Runs `moerouter bench ...` and checks what it printed (tests/cli_bench.cmake).

  check_bench.py json ROWS -- CMD...     exit 0, ROWS JSON lines with the documented keys, sane values
  check_bench.py cuda -- CMD...          a CUDA device present: as `json` (any row count, cuda keys);
                                         none (or no CUDA build): a one-line error naming CUDA
  check_bench.py png FILE                FILE is a PNG image
"""
import json
import math
import re
import subprocess
import sys

COMMON = ["device", "preset", "gemm", "n", "threads", "us_median", "us_p10", "us_p90", "reps",
          "gflops", "floor_us", "ratio_to_floor", "kernel", "flops", "bytes", "device_name"]
CPU = ["peak_gflops", "peak_isa", "peak_fraction"]
CUDA = ["bw_gbs", "sgemm_tflops", "bf16_tflops", "graph_launch_us", "graph", "input_buffers"]


def fail(message):
    print("check_bench.py: " + message)
    sys.exit(1)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    print("command:", " ".join(cmd), "\nexit status:", p.returncode, "\n--- stdout ---\n" + p.stdout +
          "--- stderr ---\n" + p.stderr)
    return p


def check_rows(stdout, expected_rows=None):
    lines = [l for l in stdout.splitlines() if l.strip()]
    if expected_rows is not None and len(lines) != expected_rows:
        fail(f"expected {expected_rows} JSON lines, got {len(lines)}")
    if not lines:
        fail("no rows")
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            fail(f"not a JSON line ({e}): {line!r}")
        keys = COMMON + (CPU if row.get("device") == "cpu" else CUDA)
        missing = [k for k in keys if k not in row]
        if missing:
            fail(f"missing keys {missing} in {line}")
        if not (row["us_median"] > 0 and row["us_p10"] <= row["us_median"] <= row["us_p90"]):
            fail(f"expected 0 < p10 <= median <= p90, got {line}")
        if row["reps"] < 3 or not row["kernel"]:
            fail(f"expected >= 3 reps and a kernel name, got {line}")
        c = row
        if c["flops"] != 2 * c["n"] * c["hidden"] * c["experts"]:
            fail(f"expected flops = 2 N H E, got {line}")
        if row["device"] == "cpu":
            if not isinstance(row["threads"], int) or row["threads"] < 1:
                fail(f"expected the resolved thread count, got {line}")
            if row["peak_gflops"] > 0:
                floor = row["flops"] / (row["peak_gflops"] * 1e3)
                # peak_gflops is printed to 0.1 GFLOP/s, so a small peak (a sanitizer build
                # measures ~5 GFLOP/s) carries a relative rounding error of up to 0.05 / peak.
                rel = 2e-3 + 0.05 / row["peak_gflops"]
                if not math.isclose(row["floor_us"], floor, rel_tol=rel, abs_tol=2e-3):
                    fail(f"expected floor_us = flops / peak = {floor}, got {line}")
        if row["floor_us"]:
            if not math.isclose(row["ratio_to_floor"], row["us_median"] / row["floor_us"], rel_tol=5e-3):
                fail(f"expected ratio_to_floor = us_median / floor_us, got {line}")
    return [json.loads(l) for l in lines]


def main():
    args = sys.argv[1:]
    if not args:
        fail(__doc__)
    mode = args[0]
    if mode == "png":
        with open(args[1], "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                fail(f"{args[1]} is not a PNG")
        return
    cmd = args[args.index("--") + 1:]
    p = run(cmd)
    if mode == "json":
        if p.returncode != 0:
            fail(f"expected exit status 0, got {p.returncode}")
        rows = check_rows(p.stdout, int(args[1]))
        got = sorted((r["n"], r["gemm"]) for r in rows)
        print("rows:", got)
    elif mode == "cuda":
        if p.returncode == 0:
            rows = check_rows(p.stdout)
            if any(r["device"] != "cuda" for r in rows):
                fail("expected only cuda rows")
        else:
            if p.returncode < 0:
                fail(f"expected a clean non-zero exit status, got signal {-p.returncode}")
            if not re.fullmatch(r"moerouter: error: [^\n]*(CUDA|cuda)[^\n]*\n", p.stderr):
                fail("expected one line 'moerouter: error: ...' naming CUDA on stderr")
    else:
        fail(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
