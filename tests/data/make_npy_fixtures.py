#!/usr/bin/python3
"""Regenerates the .npy fixtures under tests/data/npy (reader cross-checks against files NumPy
itself wrote) and tests/data/cli (small inputs for the CLI's bad-input tests).

Run from anywhere: /usr/bin/python3 tests/data/make_npy_fixtures.py. Deterministic output."""
import os

import numpy as np
from numpy.lib import format as npformat

HERE = os.path.dirname(os.path.abspath(__file__))


def save(directory, name, array, version=None, fortran=False):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    if fortran:
        array = np.asfortranarray(array)
    with open(path, "wb") as f:
        npformat.write_array(f, array, version=version)


def bf16_bits(values):
    """float32 -> bfloat16 bit patterns, round to nearest even (finite inputs only)."""
    u = np.asarray(values, dtype="<f4").view("<u4").astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def npy_fixtures():
    d = os.path.join(HERE, "npy")
    m = (np.arange(6, dtype="<f4").reshape(2, 3) - 2.5) * 0.5  # [[-1.25 -0.75 -0.25] [0.25 0.75 1.25]]
    save(d, "f32_2x3_v1.npy", m, version=(1, 0))
    save(d, "f32_2x3_v2.npy", m, version=(2, 0))
    save(d, "f32_2x3_v3.npy", m, version=(3, 0))
    save(d, "f64_3.npy", np.array([1.0, -2.5, 1e300], dtype="<f8"))
    save(d, "i4_2x2.npy", np.array([[1, -2], [2147483647, -2147483648]], dtype="<i4"))
    save(d, "i8_3.npy", np.array([1, -1, 2**40], dtype="<i8"))
    bits = bf16_bits([1.0, -2.0, 0.5, 3.0])  # 0x3f80 0xc000 0x3f00 0x4040
    save(d, "bf16_u2_4.npy", bits)
    save(d, "bf16_v2_4.npy", np.frombuffer(bits.tobytes(), dtype="V2"))
    save(d, "f32_scalar.npy", np.array(3.5, dtype="<f4"))
    save(d, "f32_0x4.npy", np.zeros((0, 4), dtype="<f4"))
    save(d, "f32_2x3_fortran.npy", m, fortran=True)
    save(d, "f32_big_endian.npy", m.astype(">f4"))
    save(d, "u1_3.npy", np.array([1, 2, 3], dtype="u1"))


def cli_fixtures():
    """Config: --hidden 8 --experts 4 --top-k 2 --score sigmoid; vocab 5 for hash routing."""
    d = os.path.join(HERE, "cli")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 8)).astype("<f4")
    w = (rng.standard_normal((4, 8)) / np.sqrt(8)).astype("<f4")
    save(d, "x.npy", x)
    save(d, "x_bf16.npy", bf16_bits(x))
    save(d, "weight.npy", w)
    save(d, "bias.npy", (rng.standard_normal(4) * 0.1).astype("<f4"))
    save(d, "x_i4.npy", np.arange(24, dtype="<i4").reshape(3, 8))
    save(d, "x_h7.npy", x[:, :7].copy())
    save(d, "x_fortran.npy", x, fortran=True)
    x_nan = x.copy()
    x_nan[1, 3] = np.nan  # row 1 gets NaN logits: --validate must refuse it
    save(d, "x_nan.npy", x_nan)
    save(d, "token_ids.npy", np.array([0, 1, 4], dtype="<i4"))
    save(d, "token_ids_oob.npy", np.array([0, 5, 1], dtype="<i4"))
    table = np.array([[0, 1], [2, 3], [1, 2], [3, 0], [0, 2]], dtype="<i4")
    save(d, "hash_table.npy", table)
    bad = table.copy()
    bad[1] = [4, 0]  # expert 4 does not exist (E = 4); token 1 reaches this row
    save(d, "hash_table_oob.npy", bad)


if __name__ == "__main__":
    npy_fixtures()
    cli_fixtures()
