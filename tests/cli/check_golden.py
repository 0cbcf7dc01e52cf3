#!/usr/bin/python3
"""Compares `moerouter route` outputs with the golden vectors of `moerouter golden`.

usage: check_golden.py GOLDEN_DIR ROUTE_IDS.npy ROUTE_WEIGHTS.npy [ROUTE_LOGITS.npy]

Hash-routed ids must equal the oracle's on every row. Otherwise ids must equal the oracle's on every row outside the near-tie band (DESIGN.md §2: a rank gap in
`sel`, or for group-limited configs in the group scores, under 1e-4 * max(1, |sel|) or under the
oracle's logit error bound). Weights of agreeing rows must be close to the oracle's, and logits,
when given, inside the oracle's bound `delta`. Exits 1 with the first offending row otherwise."""
import json
import os
import sys

import numpy as np


def activations(logits, score):
    if score == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits))
    if score == "sqrtsoftplus":
        softplus = np.where(logits > 20, logits, np.log1p(np.exp(np.minimum(logits, 20))))
        return np.sqrt(softplus)
    if score == "softmax":
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise SystemExit(f"unknown score function {score!r}")


def smallest_rank_gap(values, count):
    """Smallest gap between adjacent values among the best count+1 (descending)."""
    best = np.sort(values)[::-1][: count + 1]
    return np.min(best[:-1] - best[1:]) if best.size > 1 else np.inf


def row_gap(cfg, sel_row):
    """Smallest margin that decides this row's ids: expert ranks, and group ranks when limited."""
    k, G, keep = cfg["top_k"], cfg["groups"], cfg["topk_groups"]
    if G <= 1:
        return smallest_rank_gap(sel_row, k)
    per_group = sel_row.reshape(G, -1)
    group_scores = np.sort(per_group, axis=1)[:, ::-1][:, :2].sum(axis=1)
    kept = np.argsort(-group_scores, kind="stable")[:keep]
    reachable = per_group[kept].ravel()
    return min(smallest_rank_gap(group_scores, keep), smallest_rank_gap(reachable, k))


def main():
    golden, ids_path, weights_path = sys.argv[1:4]
    logits_path = sys.argv[4] if len(sys.argv) > 4 else None
    cfg = json.load(open(os.path.join(golden, "config.json")))
    load = lambda name: np.load(os.path.join(golden, name))
    oracle_ids, oracle_w = load("ids.npy"), load("weights.npy")
    logits64, delta, bias = load("logits.npy"), load("delta.npy"), load("bias.npy")
    ids, weights = np.load(ids_path), np.load(weights_path)
    assert ids.dtype == np.int32 and weights.dtype == np.float32, (ids.dtype, weights.dtype)
    assert ids.shape == oracle_ids.shape == weights.shape, (ids.shape, oracle_ids.shape)

    sel = activations(logits64, cfg["score"]) + bias.astype(np.float64)
    exact = near_tie = 0
    for row in range(ids.shape[0]):
        if not np.all(np.isfinite(logits64[row])):
            continue
        if np.array_equal(ids[row], oracle_ids[row]):
            exact += 1
            if not np.allclose(weights[row], oracle_w[row], rtol=1e-4, atol=1e-6):
                raise SystemExit(f"row {row}: weights {weights[row]} vs oracle {oracle_w[row]}")
            continue
        if cfg.get("hash_vocab") is not None:  # hash routing: a table lookup, no ties involved
            raise SystemExit(f"row {row}: hash-routed ids {ids[row]} vs oracle {oracle_ids[row]}")
        band = max(1e-4 * max(1.0, float(np.max(np.abs(sel[row])))), 4.0 * float(delta[row]))
        gap = row_gap(cfg, sel[row])
        if gap >= band:
            raise SystemExit(f"row {row}: ids {ids[row]} vs oracle {oracle_ids[row]}, "
                             f"deciding gap {gap:.3g} is outside the near-tie band {band:.3g}")
        near_tie += 1

    if logits_path:
        logits32 = np.load(logits_path).astype(np.float64)
        assert logits32.shape == logits64.shape, (logits32.shape, logits64.shape)
        finite = np.isfinite(logits64).all(axis=1)
        err = np.where(finite, np.abs(logits32 - np.where(finite[:, None], logits64, 0)).max(axis=1), 0)
        bad = np.nonzero(err > delta * (1 + 1e-12))[0]
        if bad.size:
            r = bad[0]
            raise SystemExit(f"row {r}: logit error {err[r]:.3g} exceeds the oracle bound {delta[r]:.3g}")
    print(f"check_golden: {ids.shape[0]} rows: {exact} exact, {near_tie} near-tie differences, 0 mismatches")


if __name__ == "__main__":
    main()
