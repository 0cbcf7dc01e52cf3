#!/usr/bin/env python3
"""Variants of a router's outputs for the `moerouter check` tests (tests/cli_compare.cmake).

  plant_disagreement.py IDS WEIGHTS ORACLE_LOGITS ROW OUT
    OUT/planted_ids.npy     row ROW's rank-1 id replaced by the expert with the lowest oracle logit
    OUT/shuffled_ids.npy    every row's ids permuted (rank order lost), and
    OUT/shuffled_weights.npy  the weights permuted alike
    OUT/ids_i64.npy         the ids as int64
    OUT/ids_wrong_shape.npy the ids without their last column
"""
import os
import sys

import numpy as np


def main(ids_path, weights_path, logits_path, row, out):
    ids, weights, logits = np.load(ids_path), np.load(weights_path), np.load(logits_path)
    row = int(row)
    planted = ids.copy()
    planted[row, 1] = int(np.argmin(logits[row]))
    np.save(os.path.join(out, "planted_ids.npy"), planted)

    rng = np.random.default_rng(1)
    perm = np.array([rng.permutation(ids.shape[1]) for _ in range(ids.shape[0])])
    identity = (perm == np.arange(ids.shape[1])).all(axis=1)
    perm[identity] = perm[identity][:, ::-1]  # every row really loses its rank order
    np.save(os.path.join(out, "shuffled_ids.npy"), np.take_along_axis(ids, perm, 1))
    np.save(os.path.join(out, "shuffled_weights.npy"), np.take_along_axis(weights, perm, 1))
    np.save(os.path.join(out, "ids_i64.npy"), ids.astype(np.int64))
    np.save(os.path.join(out, "ids_wrong_shape.npy"), np.ascontiguousarray(ids[:, :-1]))


if __name__ == "__main__":
    main(*sys.argv[1:])
