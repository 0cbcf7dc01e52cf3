"""moerouter.load_router_layer: checkpoints in both namings (sharded with an index, a plain
directory, a single file) read back exactly, route to the same bits as `moerouter route
--checkpoint` (the C++ API behind the CLI), and malformed files raise moerouter.Error('io_error').
The checkpoints come from tests/cli/make_checkpoint_fixtures.py, the CLI tests' own fixtures."""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import moerouter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "cli"))
import make_checkpoint_fixtures as fixtures  # noqa: E402

CLI = os.environ.get("MOEROUTER_CLI")
HF_CFG = dict(hidden=64, experts=16, top_k=4, score="sigmoid", groups=4, topk_groups=2, scale=2.5)
DS_CFG = dict(hidden=64, experts=16, top_k=4, score="sqrtsoftplus")


@pytest.fixture(scope="module")
def ck(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt")
    fixtures.main(str(out))
    return out


def _same(a, b):
    a = a.bits if isinstance(a, moerouter.bf16_bits) else a
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("where,layer,naming,w,b,t", [
    ("hf", 1, "hf", "hf_w1", "hf_b1", None),             # bf16 weight, bias at an odd offset
    ("hf", 2, "hf", "hf_w2", "hf_b2", None),             # second shard, f32 weight
    ("hf/model-00002-of-00002.safetensors", 2, "hf", "hf_w2", "hf_b2", None),  # one file
    ("ds", 0, "deepseek", "ds_w0", None, "ds_tid2eid0"),  # hash layer, no index
    ("ds", 1, "deepseek", "ds_w1", "ds_b1", None),
])
def test_reads_tensors_exactly(ck, where, layer, naming, w, b, t):
    got = moerouter.load_router_layer(ck / where, layer)
    assert got.naming == naming
    assert isinstance(got.weight, moerouter.bf16_bits) == (w in ("hf_w1", "ds_w0"))
    assert _same(got.weight, np.load(ck / f"{w}.npy"))
    assert (got.bias is None) if b is None else _same(got.bias, np.load(ck / f"{b}.npy"))
    assert (got.tid2eid is None) if t is None else _same(got.tid2eid, np.load(ck / f"{t}.npy"))


def test_lists_router_layers(ck):
    assert moerouter.router_layers(ck / "hf") == [1, 2]
    assert moerouter.router_layers(str(ck / "ds")) == [0, 1]


# Each case: checkpoint dir, layer, config, extra route() kwargs, the CLI's extra args (the same
# ones tests/cli_checkpoint.cmake uses).
CASES = {
    "hf1": ("hf", 1, HF_CFG, {}, []),
    "hf2": ("hf", 2, HF_CFG, {}, []),
    "ds0": ("ds", 0, dict(DS_CFG, scale=1.5), {"hash": True},
            ["--score", "sqrtsoftplus", "--scale", "1.5", "--token-ids", "token_ids.npy"]),
    "ds1": ("ds", 1, DS_CFG, {"bf16_x": True, "gemm": "fp32"},
            ["--top-k", "4", "--score", "sqrtsoftplus", "--gemm", "fp32"]),
}


def _route_python(ck, where, layer, cfg, opts):
    rl = moerouter.load_router_layer(ck / where, layer)
    router = moerouter.Router(moerouter.Config(**cfg), rl.weight, rl.bias, device="cpu")
    x = (moerouter.bf16_bits(np.load(ck / "x_bf16.npy")) if opts.get("bf16_x")
         else np.load(ck / "x.npy"))
    kw = {"gemm": opts["gemm"]} if "gemm" in opts else {}
    if opts.get("hash"):
        kw.update(token_ids=np.load(ck / "token_ids.npy"), hash_table=rl.tid2eid)
    return router.route(x, logits=True, **kw)


@pytest.mark.parametrize("case", sorted(CASES))
def test_python_equals_cli_checkpoint(ck, tmp_path, case):
    if not CLI:
        pytest.skip("moerouter CLI not built (MOEROUTER_TOOLS=OFF): no CLI side to compare with")
    where, layer, cfg, opts, cli_args = CASES[case]
    ours = _route_python(ck, where, layer, cfg, opts)
    x = "x_bf16.npy" if opts.get("bf16_x") else "x.npy"
    args = [a if not a.endswith(".npy") else str(ck / a) for a in cli_args]
    out = {f: tmp_path / f"{f}.npy" for f in ("w", "i", "l")}
    run = subprocess.run([CLI, "route", "--checkpoint", str(ck / where), "--layer", str(layer),
                          "--x", str(ck / x), "--device", "cpu", *args, "--out-weights", out["w"],
                          "--out-ids", out["i"], "--out-logits", out["l"]],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert np.load(out["w"]).tobytes() == ours.weights.tobytes()
    assert np.load(out["i"]).tobytes() == ours.ids.tobytes()
    assert np.load(out["l"]).tobytes() == ours.logits.tobytes()
    if opts.get("hash"):  # the ids are the table's rows for the tokens, in order
        table, tokens = np.load(ck / "ds_tid2eid0.npy"), np.load(ck / "token_ids.npy")
        assert np.array_equal(ours.ids, table[tokens])


# --- malformed checkpoints -----------------------------------------------------------------------

def _write(path, header, data=b"", length=None):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def _raises(path, match, layer=0):
    with pytest.raises(moerouter.Error, match=match) as e:
        moerouter.load_router_layer(path, layer)
    assert e.value.code == "io_error"


W = "layers.0.ffn.gate.weight"


def test_fixture_files_malformed(ck):
    _raises(ck / "bad" / "overlap.safetensors", "overlapping data ranges")
    _raises(ck / "bad" / "trunc.safetensors", f"{W}.*offsets out of file")
    _raises(ck / "no_such_checkpoint", "no such file or directory")
    _raises(ck / "hf", r"router layers \[1, 2\], got 7", layer=7)


def test_hand_made_malformed(tmp_path):
    ok = {W: {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    data = np.arange(4, dtype=np.float32).tobytes()
    assert _same(moerouter.load_router_layer(_write(tmp_path / "ok.safetensors", ok, data), 0).weight,
                 np.arange(4, dtype=np.float32).reshape(2, 2))
    (tmp_path / "short.safetensors").write_bytes(b"\x01\x00")
    _raises(tmp_path / "short.safetensors", "8-byte header length")
    _raises(_write(tmp_path / "len.safetensors", ok, data, length=1 << 40), "header length")
    _raises(_write(tmp_path / "json.safetensors", ok, data, length=10), "expected JSON")
    _raises(_write(tmp_path / "list.safetensors", [1, 2]), "expected a JSON object")
    bad_size = {W: {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}}
    _raises(_write(tmp_path / "size.safetensors", bad_size, data), "size mismatch.*24 bytes.*16")
    bad_dtype = {W: {"dtype": "F33", "shape": [2, 2], "data_offsets": [0, 16]}}
    _raises(_write(tmp_path / "dtype.safetensors", bad_dtype, data), "unknown dtype 'F33'")
    backwards = {W: {"dtype": "F32", "shape": [0], "data_offsets": [16, 0]}}
    _raises(_write(tmp_path / "back.safetensors", backwards, data), "data_offsets")
    neg = {W: {"dtype": "F32", "shape": [-1, 2], "data_offsets": [0, 16]}}
    _raises(_write(tmp_path / "neg.safetensors", neg, data), "shape: expected")


def test_index_must_stay_inside_directory(tmp_path):
    d = tmp_path / "ck"
    d.mkdir()
    (d / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {W: "../outside.safetensors"}}))
    _raises(d, "expected a shard file inside the checkpoint directory")
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {W: "a.safetensors"}}))
    _write(d / "a.safetensors", {})
    _raises(d, "puts tensor .* which has no such tensor")


def test_wrong_layer_argument(ck):
    with pytest.raises(moerouter.Error) as e:
        moerouter.load_router_layer(ck / "hf", "1")
    assert e.value.code == "invalid_argument"


# The README's Python checkpoint example, as written there (CKPT: an HF-named checkpoint; DS_CKPT:
# a DeepSeek-named one with a hash layer 0), run on the fixtures.
README_EXAMPLE = '''
import numpy as np
import moerouter

print(moerouter.router_layers(CKPT))              # layers with a gate: [1, 2]
layer = moerouter.load_router_layer(CKPT, 1)      # file, directory, or sharded with an index
cfg = moerouter.Config(hidden=64, experts=16, top_k=4, score="sigmoid", groups=4,
                       topk_groups=2, scale=2.5)
router = moerouter.Router(cfg, layer.weight, layer.bias)  # BF16 arrives as moerouter.bf16_bits
x = np.random.default_rng(0).standard_normal((8, 64), dtype=np.float32)
weights, ids = router.route(x)                    # == `moerouter route --checkpoint CKPT --layer 1`

hashed = moerouter.load_router_layer(DS_CKPT, 0)  # DeepSeek naming: layers.0.ffn.gate.tid2eid
router = moerouter.Router(moerouter.Config(hidden=64, experts=16, top_k=4, score="sqrtsoftplus"),
                          hashed.weight, hashed.bias)
tokens = np.arange(8)
weights, ids = router.route(x, token_ids=tokens, hash_table=hashed.tid2eid)
assert (ids == hashed.tid2eid[tokens]).all()
'''


def test_readme_example(ck):
    exec(README_EXAMPLE, {"CKPT": str(ck / "hf"), "DS_CKPT": str(ck / "ds")})
