#!/usr/bin/env python3
"""Plot `moerouter bench --json` rows: microseconds per call vs N, log-log, one panel per preset,
one line per (device, gemm mode, threads) with its floor as a dashed line of the same colour.
Rows of tools/bench/torch_baseline.py (they carry "impl") are drawn as grey dotted references.

usage: plot_bench.py --out OUT.png [--title TITLE] [FILE ...]   (no FILE or '-': stdin)
       plot_bench.py --check      (exit 0 when matplotlib can be imported, else 3)

`moerouter bench --plot OUT.png` runs this script (embedded in the binary) on its own rows.
Exit status: 0 written, 2 bad input or arguments, 3 matplotlib missing. Errors are one line on
stderr. The PNG is written to a temporary file beside OUT and renamed, so OUT is never partial.
"""
import argparse
import json
import os
import sys
import tempfile


def die(message, status=2):
    print("plot_bench.py: " + message, file=sys.stderr)
    sys.exit(status)


def import_pyplot():
    try:
        import matplotlib
    except ImportError:
        die("matplotlib is not installed for " + sys.executable +
            " (Debian: apt install python3-matplotlib)", 3)
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    return plt


def read_rows(paths):
    rows = []
    for path in paths or ["-"]:
        stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
        with stream:
            for number, line in enumerate(stream, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    die(f"{path}:{number}: not a JSON line ({e.msg})")
                if not isinstance(row, dict) or not {"preset", "n", "us_median"} <= row.keys():
                    die(f"{path}:{number}: expected an object with preset, n and us_median")
                rows.append(row)
    if not rows:
        die("no rows to plot")
    return rows


def series_key(row):
    if "impl" in row:  # a PyTorch baseline row
        return ("torch", row["impl"], row.get("device", ""), row.get("threads"))
    return ("moerouter", row.get("gemm", "?"), row.get("device", ""), row.get("threads"))


def floor_key(row):
    """Rows share a floor when it comes from the same ceiling: on the CPU the FMA peak at a thread
    count (whatever the mode), on CUDA the copy bandwidth and the FP32 or BF16 GEMM rate."""
    if row.get("device") == "cpu":
        return ("cpu", row.get("threads"), "FMA peak")
    return (row.get("device", ""), None, "BF16 GEMM" if row.get("gemm") == "bf16" else "FP32 GEMM")


def threads_text(device, threads):
    return f" {threads}T" if device == "cpu" and threads else ""


def label(key):
    _, what, device, threads = key
    return (what if key[0] == "torch" else f"{device} {what}") + threads_text(device, threads)


TORCH_STYLES = [("x", "0.35"), ("+", "0.55"), ("^", "0.7"), ("s", "0.45")]


def plot(rows, out, title):
    plt = import_pyplot()
    presets = sorted({r["preset"] for r in rows})
    cols = min(3, len(presets))
    nrows = (len(presets) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(5.5 * cols, 4.5 * nrows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    keys = sorted({series_key(r) for r in rows}, key=lambda k: tuple(str(x) for x in k))
    ours = [k for k in keys if k[0] != "torch"]
    colour = {k: colours[i % len(colours)] for i, k in enumerate(ours)}
    torch_style = {k: TORCH_STYLES[i % len(TORCH_STYLES)] for i, k in enumerate(k for k in keys if k[0] == "torch")}
    bench_rows = [r for r in rows if "impl" not in r]
    floor_keys = sorted({floor_key(r) for r in bench_rows if r.get("floor_us")}, key=lambda k: tuple(str(x) for x in k))
    floor_style = {k: ("--", "-.", ":")[i % 3] for i, k in enumerate(floor_keys)}
    for ax, preset in zip(axes.flat, presets):
        here = [r for r in rows if r["preset"] == preset]
        for key in keys:
            pts = sorted((r for r in here if series_key(r) == key), key=lambda r: r["n"])
            if not pts:
                continue
            ns, us = [r["n"] for r in pts], [r["us_median"] for r in pts]
            if key[0] == "torch":
                marker, grey = torch_style[key]
                ax.plot(ns, us, ":", marker=marker, color=grey, label=label(key))
            else:
                ax.plot(ns, us, "-", marker="o", color=colour[key], label=label(key))
        for fkey in floor_keys:
            floors = {}
            for r in here:
                if "impl" not in r and r.get("floor_us") and floor_key(r) == fkey:
                    floors[r["n"]] = r["floor_us"]
            if floors:
                ns = sorted(floors)
                device, threads, ceiling = fkey
                ax.plot(ns, [floors[n] for n in ns], floor_style[fkey], marker="_", markersize=12,
                        color="black", alpha=0.55, label=f"{device}{threads_text(device, threads)} floor ({ceiling})")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(preset)
        ax.set_xlabel("N (tokens per call)")
        ax.set_ylabel("µs per call (median)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(presets):]:
        ax.set_visible(False)
    devices = sorted({r["device_name"] for r in rows if r.get("device_name")})
    fig.suptitle(title or "moerouter bench" + (": " + ", ".join(devices) if devices else ""))
    fig.tight_layout()
    save_atomically(fig, out)


def save_atomically(fig, out):
    directory = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(out) + ".tmp-", suffix=".png", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=110)
        umask = os.umask(0)  # mkstemp makes the file 0600; give it the mode a plain open() would
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="PNG to write")
    ap.add_argument("--title", default="")
    ap.add_argument("--check", action="store_true", help="only check that matplotlib imports")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    if a.check:
        import_pyplot()
        return
    if not a.out:
        die("--out OUT.png is required")
    try:
        plot(read_rows(a.files), a.out, a.title)
    except OSError as e:
        die(f"{e.filename or a.out}: {e.strerror}")


if __name__ == "__main__":
    main()
