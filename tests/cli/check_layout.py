#!/usr/bin/python3
"""Checks the dispatch layout written by `moerouter route --out-layout DIR` against the ids the
same run wrote.

usage: check_layout.py IDS.npy LAYOUT_DIR --experts E [--counts COUNTS.npy]
       check_layout.py --absent DIR

The layout (core/include/moerouter/router.hpp, RouteOptions): DIR holds exactly counts.npy <i8 [E],
expert_offsets.npy <i8 [E+1] and token_slots.npy <i8 [N*k]; offsets[0] = 0, offsets[E] = N*k,
diff(offsets) = counts = tokens routed to each expert; token_slots is a permutation of the slots
token*k + rank, grouped by expert (experts ascending: ids.flat[token_slots[offsets[e]:offsets[e+1]]]
are all e) and ascending within an expert. --counts: a file from --out-counts of the same run,
which must equal counts.npy. --absent: DIR must not exist (a failed run created nothing).
Exits 1 naming the first violation."""
import argparse
import os
import sys

import numpy as np

FILES = ("counts.npy", "expert_offsets.npy", "token_slots.npy")


def fail(message):
    print(f"check_layout: {message}", file=sys.stderr)
    sys.exit(1)


def load_i8(path, shape):
    """The array of a little-endian int64 .npy file of exactly `shape` (1-D: no order question)."""
    a = np.load(path)
    if a.dtype.str != "<i8" or a.shape != tuple(shape):
        fail(f"{path}: expected <i8 {list(shape)}, got {a.dtype.str} {list(a.shape)}")
    return a


def check(ids_path, layout_dir, experts, counts_path):
    ids = np.load(ids_path)
    if ids.ndim != 2 or ids.dtype != np.int32:
        fail(f"{ids_path}: expected int32 [N, k] ids, got {ids.dtype} {list(ids.shape)}")
    flat = ids.ravel()
    slots_total = flat.size
    if flat.size and (flat.min() < 0 or flat.max() >= experts):
        fail(f"{ids_path}: ids outside [0, {experts})")

    listing = sorted(os.listdir(layout_dir))
    if listing != sorted(FILES):
        fail(f"{layout_dir}: expected exactly {sorted(FILES)}, found {listing}")
    counts = load_i8(os.path.join(layout_dir, "counts.npy"), (experts,))
    offsets = load_i8(os.path.join(layout_dir, "expert_offsets.npy"), (experts + 1,))
    slots = load_i8(os.path.join(layout_dir, "token_slots.npy"), (slots_total,))

    if offsets[0] != 0:
        fail(f"expert_offsets[0]: expected 0, got {offsets[0]}")
    if offsets[experts] != slots_total:
        fail(f"expert_offsets[{experts}]: expected N*k = {slots_total}, got {offsets[experts]}")
    bad = np.flatnonzero(np.diff(offsets) != counts)
    if bad.size:
        e = bad[0]
        fail(f"expert {e}: expected offsets[e+1] - offsets[e] == counts[e], got "
             f"{offsets[e + 1]} - {offsets[e]} vs {counts[e]}")
    expected_counts = np.bincount(flat, minlength=experts)
    bad = np.flatnonzero(counts != expected_counts)
    if bad.size:
        e = bad[0]
        fail(f"counts[{e}]: expected {expected_counts[e]} (from the ids), got {counts[e]}")

    if slots.size and (slots.min() < 0 or slots.max() >= slots_total):
        fail(f"token_slots: expected values in [0, {slots_total}), got [{slots.min()}, {slots.max()}]")
    if not np.array_equal(np.sort(slots), np.arange(slots_total)):
        fail("token_slots: expected a permutation of 0 .. N*k-1, some slot repeats")
    for e in range(experts):
        group = slots[offsets[e]:offsets[e + 1]]
        wrong = np.flatnonzero(flat[group] != e)
        if wrong.size:
            j = offsets[e] + wrong[0]
            fail(f"token_slots[{j}] = {slots[j]}: inside expert {e}'s range, but that slot went to "
                 f"expert {flat[slots[j]]}")
        unordered = np.flatnonzero(np.diff(group) <= 0)
        if unordered.size:
            j = offsets[e] + unordered[0]
            fail(f"expert {e}: expected ascending slots, got token_slots[{j}] = {slots[j]} then "
                 f"{slots[j + 1]}")
    # The whole contract in one line: a stable sort of the slots by expert id.
    if not np.array_equal(slots, np.argsort(flat, kind="stable")):
        fail("token_slots: expected the stable argsort of ids.ravel()")

    if counts_path is not None:
        other = load_i8(counts_path, (experts,))
        if not np.array_equal(other, counts):
            fail(f"{counts_path}: expected the same counts as {layout_dir}/counts.npy")
    print(f"check_layout: {layout_dir}: {ids.shape[0]} tokens x {ids.shape[1]} slots over "
          f"{experts} experts ({np.count_nonzero(counts)} used), consistent with {ids_path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ids", nargs="?")
    p.add_argument("layout_dir", nargs="?")
    p.add_argument("--experts", type=int)
    p.add_argument("--counts")
    p.add_argument("--absent", metavar="DIR")
    a = p.parse_args()
    if a.absent is not None:
        if os.path.lexists(a.absent):
            fail(f"{a.absent}: expected no such path after a failed run, but it exists")
        print(f"check_layout: {a.absent}: absent, as expected")
        return
    if a.ids is None or a.layout_dir is None or a.experts is None:
        p.error("IDS.npy, LAYOUT_DIR and --experts are required")
    check(a.ids, a.layout_dir, a.experts, a.counts)


if __name__ == "__main__":
    main()
