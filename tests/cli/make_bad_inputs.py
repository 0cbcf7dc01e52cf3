#!/usr/bin/env python3
"""Small bad inputs for the CLI's bad-input tests (tests/cli.cmake), beside the fixtures in
tests/data/cli (config --hidden 8 --experts 4 --top-k 2 --score sigmoid, 3 rows, vocab 5).

  python3 make_bad_inputs.py OUT_DIR
"""
import os
import sys

import numpy as np


def main(out):
    os.makedirs(out, exist_ok=True)
    table = np.array([[0, 1], [2, 3], [1, 2], [3, 0], [0, 2]], dtype="<i4")  # data/cli/hash_table.npy
    files = {
        "token_ids_negative.npy": np.array([0, -1, 4], dtype="<i4"),
        "token_ids_long.npy": np.array([0, 1, 4, 2], dtype="<i4"),
        "bias_short.npy": np.zeros(3, dtype="<f4"),
    }
    neg = table.copy()
    neg[4, 1] = -3  # token 4 (row 2 of data/cli/token_ids.npy = [0, 1, 4]) reaches it
    files["hash_table_negative.npy"] = neg
    unused = table.copy()
    unused[3] = [7, -1]  # no token of data/cli/token_ids.npy uses row 3
    files["hash_table_unused_bad_row.npy"] = unused
    for name, a in files.items():
        np.save(os.path.join(out, name), a)


if __name__ == "__main__":
    main(sys.argv[1])
