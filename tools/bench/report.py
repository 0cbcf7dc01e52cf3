#!/usr/bin/env python3
"""Join `moerouter bench --json` rows with tools/bench/torch_baseline.py rows into one markdown
table for the README: each moerouter row with its floor, its ratio to the floor, and the PyTorch
times of the same device, preset and N (and thread count on the CPU) with the speed-up over them.

usage: report.py --bench BENCH.jsonl [--torch TORCH.jsonl ...] [--date YYYY-MM-DD] [--title T]
                 [--plot OUT.png]

  moerouter bench --device cuda --preset dsv4-pro --n 1,16,256,4096,16384 \\
      --gemm canonical,fp32,bf16 --json > bench.jsonl
  python3 tools/bench/torch_baseline.py --device cuda --presets dsv4-pro \\
      --n 1,16,256,4096,16384 > torch.jsonl
  python3 tools/bench/report.py --bench bench.jsonl --torch torch.jsonl >> README-table.md

Columns: "× floor" = moerouter µs / floor µs (1.00 would be at the floor); "speed-up vs X" =
X's µs / moerouter µs (above 1: moerouter is faster). Both come from the same run, so they hold on
any machine; the absolute µs are for that machine only.

--plot OUT.png also writes a PNG (needs matplotlib, Debian: python3-matplotlib): µs vs N, log-log,
one panel per preset, drawn by plot_bench.py (the same plot as `moerouter bench --plot`): a line
per gemm mode, its floor dashed, the PyTorch variants of the same device as grey references. It
shows the first device of --bench only (a note on stderr says which were left out); the markdown
on stdout is the same with or without --plot.
"""
import argparse
import datetime
import json
import os
import sys

TORCH_ORDER = ["torch-eager", "torch-graph", "torch-cpu"]


def die(message):
    print("report.py: " + message, file=sys.stderr)
    sys.exit(2)


def read_jsonl(path, required):
    rows = []
    with (sys.stdin if path == "-" else open(path, encoding="utf-8")) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                die(f"{path}:{number}: not a JSON line ({e.msg})")
            missing = [k for k in required if k not in row]
            if missing:
                die(f"{path}:{number}: missing {', '.join(missing)}")
            rows.append(row)
    return rows


def torch_time(torch_rows, row, impl):
    """The PyTorch median for this row's device, preset and N; on the CPU the same thread count
    when the baseline row says how many threads it used."""
    for t in torch_rows:
        if (t["impl"], t["device"], t["preset"], t["n"]) != (impl, row["device"], row["preset"], row["n"]):
            continue
        if row["device"] == "cpu" and t.get("threads") and row.get("threads") and t["threads"] != row["threads"]:
            continue
        return t["us_median"]
    return None


def fmt_us(v):
    return "–" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")


def ceilings(rows):
    lines = []
    seen = set()
    for r in rows:
        key = (r["device"], r.get("device_name", ""), r.get("threads"))
        if key in seen:
            continue
        seen.add(key)
        name = r.get("device_name") or r["device"]
        if r["device"] == "cpu" and r.get("peak_gflops"):
            lines.append(f"- {name}: FMA peak {r['peak_gflops']:.0f} GFLOP/s at {r.get('threads')} "
                         f"thread(s) ({r.get('peak_isa', '?')}), measured in the same run")
        elif r["device"] == "cuda" and r.get("bw_gbs"):
            launch = (f", a graph of one empty kernel {r['graph_launch_us']:.2f} µs (what no graph-replayed "
                      f"row can beat)" if r.get("graph_launch_us") else "")
            lines.append(f"- {name}: copy {r['bw_gbs']:.0f} GB/s, SGEMM {r.get('sgemm_tflops', 0):.1f} "
                         f"TFLOP/s, BF16 GEMM {r.get('bf16_tflops', 0):.0f} TFLOP/s{launch}, measured in the same run")
    return lines


def table(bench, torch_rows):
    """One markdown table for rows of one device, with a column pair per PyTorch variant measured
    on that device."""
    device = bench[0]["device"]
    present = {t["impl"] for t in torch_rows if t["device"] == device}
    impls = [i for i in TORCH_ORDER if i in present] + sorted(present - set(TORCH_ORDER))
    head = ["preset", "N", "gemm"] + (["threads"] if device == "cpu" else [])
    head += ["moerouter µs", "floor µs", "× floor"]
    head += ["cuBLAS alone µs", "× cuBLAS"] if device == "cuda" else []
    head += ["kernel"]
    for impl in impls:
        head += [f"{impl} µs", f"speed-up vs {impl}"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in bench:
        us, floor = r["us_median"], r.get("floor_us")
        ratio = r.get("ratio_to_floor") or (us / floor if floor else None)
        kernel = r.get("kernel", "") + (" (graph)" if r.get("graph") else "")
        cells = [r["preset"], str(r["n"]), r["gemm"]] + ([str(r.get("threads") or "–")] if device == "cpu" else [])
        cells += [fmt_us(us), fmt_us(floor), "–" if ratio is None else f"{ratio:.2f}"]
        if device == "cuda":  # cuBLAS alone on the same shape (SGEMM; BF16 GemmEx for bf16 rows)
            alone = r.get("gemm_alone_us")
            cells += [fmt_us(alone), "–" if not alone else f"{us / alone:.2f}"]
        cells.append(kernel)
        for impl in impls:
            t = torch_time(torch_rows, r, impl)
            cells += [fmt_us(t), "–" if t is None or us <= 0 else f"{t / us:.2f}×"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def pyplot_available():
    """Checks for matplotlib before anything is printed (the table needs nothing outside the
    standard library), so a missing matplotlib leaves no half report."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        die("--plot needs matplotlib (apt-get install python3-matplotlib)")


def plot(bench, torch_rows, out, title):
    """µs vs N, log-log, one panel per preset, for the rows of the first device in bench; drawn by
    plot_bench.py beside this script (the same plot as `moerouter bench --plot`)."""
    device = bench[0]["device"]
    others = list(dict.fromkeys(r["device"] for r in bench if r["device"] != device))
    if others:
        print(f"report.py: note: the plot shows {device} only; the rows of {', '.join(others)} are in the "
              "table but not in the plot", file=sys.stderr)
    rows = [r for r in bench + torch_rows if r["device"] == device]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import plot_bench
    try:
        plot_bench.plot(rows, out, title)
    except OSError as e:
        die(f"--plot {out}: {e.strerror}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True, help="moerouter bench --json output ('-': stdin)")
    ap.add_argument("--torch", action="append", default=[], help="torch_baseline.py output (repeatable)")
    ap.add_argument("--date", default=datetime.date.today().isoformat())
    ap.add_argument("--title", default="moerouter bench")
    ap.add_argument("--plot", metavar="OUT.png", help="also write a PNG plot (needs matplotlib)")
    a = ap.parse_args()
    bench = read_jsonl(a.bench, ["device", "preset", "gemm", "n", "us_median"])
    torch_rows = [t for p in a.torch for t in read_jsonl(p, ["impl", "device", "preset", "n", "us_median"])]
    if not bench:
        die(f"{a.bench}: no rows")
    if a.plot:
        pyplot_available()
    print(f"### {a.title} ({a.date})\n")
    for line in ceilings(bench):
        print(line)
    for device in dict.fromkeys(r["device"] for r in bench):  # in order of appearance
        print(f"\n**{device}**\n")
        print("\n".join(table([r for r in bench if r["device"] == device], torch_rows)))
    if a.plot:
        name = bench[0].get("device_name") or bench[0]["device"]
        plot(bench, torch_rows, a.plot, f"{a.title}: {name} ({a.date})")


if __name__ == "__main__":
    main()
