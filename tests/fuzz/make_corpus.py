#!/usr/bin/python3
"""Writes the fuzzing seed corpus: tests/fuzz/corpus/{npy,safetensors,config}/.

Small valid files, and near-valid ones a byte or a field away from valid (truncated, trailing
bytes, wrong magic or version, bad header, overlapping or out-of-file ranges, wrong sizes...), so
the fuzzer starts next to every check. Regression seeds (inputs that once found a bug) live beside
them under names starting with "regress_" and are never deleted by this script.

    /usr/bin/python3 tests/fuzz/make_corpus.py [OUT_DIR]    (default: tests/fuzz/corpus)

Needs numpy. Deterministic: the same files on every run.
"""
import io
import json
import os
import struct
import sys

import numpy as np


def npy_bytes(a, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, a, allow_pickle=False)
    else:
        np.lib.format.write_array(buf, a, version=version, allow_pickle=False)
    return buf.getvalue()


def npy_raw(header, data=b"", version=1):
    """A .npy image with this exact header text (padded as NumPy pads it)."""
    pre = 10 if version == 1 else 12
    text = header + " " * ((64 - (pre + len(header) + 1) % 64) % 64) + "\n"
    length = struct.pack("<H", len(text)) if version == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text.encode("latin-1") + data


def npy_corpus():
    rng = np.random.default_rng(7)
    f = {}
    f["f32_2x3"] = npy_bytes(rng.standard_normal((2, 3)).astype("<f4"))
    f["f64_3"] = npy_bytes(np.array([1.0, -0.0, 1e300], dtype="<f8"))
    f["i32_2x2"] = npy_bytes(np.array([[0, 1], [-1, 2**31 - 1]], dtype="<i4"))
    f["i64_scalar"] = npy_bytes(np.array(2**40, dtype="<i8"))
    f["bf16_u2_4"] = npy_bytes(np.array([0x3F80, 0x7FC0, 0xFF80, 0], dtype="<u2"))
    f["bf16_v2_2"] = npy_bytes(np.frombuffer(b"\x80\x3f\x00\x40", dtype="V2"))
    f["f32_0x4"] = npy_bytes(np.zeros((0, 4), dtype="<f4"))
    f["f32_1x1x1x2"] = npy_bytes(np.ones((1, 1, 1, 2), dtype="<f4"))
    f["f32_rank5"] = npy_bytes(np.ones((1, 1, 1, 1, 2), dtype="<f4"))
    f["f32_v2"] = npy_bytes(np.arange(3, dtype="<f4"), version=(2, 0))
    f["f32_v3"] = npy_bytes(np.arange(2, dtype="<f4"), version=(3, 0))
    f["i32_py2_long"] = npy_raw("{'descr': '<i4', 'fortran_order': False, 'shape': (2L,), }",
                                struct.pack("<2i", 5, 6))
    # Near-valid.
    good = f["f32_2x3"]
    f["bad_truncated_data"] = good[:-4]
    f["bad_trailing_data"] = good + b"\0\0\0\0"
    f["bad_magic"] = b"PK\x03\x04" + good[4:]
    f["bad_version"] = good[:6] + b"\x04\x00" + good[8:]
    f["bad_header_past_end"] = good[:8] + b"\xff\x7f" + good[10:80]
    f["bad_short"] = good[:9]
    f["bad_fortran"] = npy_raw("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", b"\0" * 16)
    f["bad_big_endian"] = npy_bytes(np.arange(2, dtype=">f4"))
    f["bad_u1"] = npy_bytes(np.arange(3, dtype="u1"))
    f["bad_structured"] = npy_raw("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", b"\0" * 4)
    f["bad_shape_int"] = npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", b"\0" * 12)
    f["bad_shape_negative"] = npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")
    f["bad_shape_huge"] = npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': "
                                  "(4294967296, 4294967296), }", b"\0" * 8)
    f["bad_repeated_key"] = npy_raw("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                                    b"\0" * 4)
    f["bad_missing_key"] = npy_raw("{'descr': '<f4', 'shape': (1,), }", b"\0" * 4)
    f["bad_extra_key"] = npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1, }", b"\0" * 4)
    f["bad_escape"] = npy_raw("{'descr': '<f\\4', 'fortran_order': False, 'shape': (), }", b"\0" * 4)
    f["bad_after_dict"] = npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (), }x", b"\0" * 4)
    return f


def st_file(header, data=b"", pad=True, length=None):
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + data


def st_corpus():
    f = {}
    w = np.arange(16 * 8, dtype="<f4").reshape(16, 8) / 100
    b = np.linspace(-1, 1, 16).astype("<f4")
    t = (np.arange(10 * 4, dtype="<i4") % 16).reshape(10, 4)
    bf = (w.view("<u4") >> 16).astype("<u2")
    data = w.tobytes() + b.tobytes() + t.tobytes() + bf.tobytes()
    o1 = len(w.tobytes())
    o2 = o1 + 64
    o3 = o2 + len(t.tobytes())
    o4 = o3 + len(bf.tobytes())
    f["hf_router"] = st_file({
        "__metadata__": {"format": "pt"},
        "model.layers.1.mlp.gate.weight": {"dtype": "F32", "shape": [16, 8], "data_offsets": [0, o1]},
        "model.layers.1.mlp.gate.e_score_correction_bias": {"dtype": "F32", "shape": [16], "data_offsets": [o1, o2]},
        "model.layers.0.mlp.gate.tid2eid": {"dtype": "I32", "shape": [10, 4], "data_offsets": [o2, o3]},
        "model.layers.0.mlp.gate.weight": {"dtype": "BF16", "shape": [16, 8], "data_offsets": [o3, o4]},
    }, data)
    f["deepseek_router"] = st_file({
        "layers.3.ffn.gate.weight": {"dtype": "BF16", "shape": [16, 8], "data_offsets": [0, 256]},
        "layers.3.ffn.gate.bias": {"dtype": "F32", "shape": [16], "data_offsets": [256, 320]},
    }, bf.tobytes() + b.tobytes())
    f["mixtral_router"] = st_file({
        "model.layers.0.block_sparse_moe.gate.weight": {"dtype": "F32", "shape": [2, 4], "data_offsets": [0, 32]},
    }, w.tobytes()[:32])
    # Every dtype the format names, sized right; I64 and F64 need 8 bytes each.
    dts = [("BOOL", 1), ("U8", 1), ("I8", 1), ("F8_E5M2", 1), ("F8_E4M3", 1), ("F8_E8M0", 1),
           ("I16", 2), ("U16", 2), ("F16", 2), ("BF16", 2), ("I32", 4), ("U32", 4), ("F32", 4),
           ("I64", 8), ("U64", 8), ("F64", 8), ("C64", 8)]
    hdr, off = {}, 0
    for name, size in dts:
        hdr["t_" + name] = {"dtype": name, "shape": [2], "data_offsets": [off, off + 2 * size]}
        off += 2 * size
    hdr["t_F4"] = {"dtype": "F4", "shape": [2, 3], "data_offsets": [off, off + 3]}
    off += 3
    hdr["t_F6_E2M3"] = {"dtype": "F6_E2M3", "shape": [4], "data_offsets": [off, off + 3]}
    off += 3
    hdr["t_empty"] = {"dtype": "F32", "shape": [0, 5], "data_offsets": [off, off]}
    hdr["t_scalar"] = {"dtype": "I64", "shape": [], "data_offsets": [off, off + 8]}
    off += 8
    f["all_dtypes"] = st_file(hdr, bytes(range(256))[:off])
    # Data at an odd offset: loading must copy to an aligned buffer.
    f["unaligned"] = st_file({"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                              "y": {"dtype": "F32", "shape": [2], "data_offsets": [1, 9]},
                              "z": {"dtype": "I64", "shape": [1], "data_offsets": [9, 17]}}, bytes(range(17)))
    f["unpadded"] = st_file({"a": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}}, b"\1\0\0\0", pad=False)
    f["empty_header"] = st_file({})
    f["metadata_only"] = st_file({"__metadata__": {"a": "b", "": ""}})
    # Near-valid.
    one = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    f["bad_overlap"] = st_file({"a": one, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12)
    f["bad_out_of_file"] = st_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 8)
    f["bad_size_mismatch"] = st_file({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8)
    f["bad_end_before_begin"] = st_file({"a": {"dtype": "U8", "shape": [0], "data_offsets": [8, 0]}}, b"\0" * 8)
    f["bad_dtype"] = st_file({"a": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, b"\0" * 16)
    f["bad_negative_extent"] = st_file({"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}})
    f["bad_float_extent"] = st_file({"a": {"dtype": "U8", "shape": [1.5], "data_offsets": [0, 1]}}, b"\0")
    f["bad_huge_shape"] = st_file({"a": {"dtype": "F64", "shape": [2**40, 2**40, 2**40], "data_offsets": [0, 8]}},
                                  b"\0" * 8)
    f["bad_missing_field"] = st_file({"a": {"dtype": "U8", "shape": [1]}}, b"\0")
    f["bad_offsets_arity"] = st_file({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0]}}, b"\0")
    f["bad_metadata_value"] = st_file({"__metadata__": {"a": 1}})
    f["bad_not_object"] = st_file([1, 2, 3])
    f["bad_fractional_bits"] = st_file({"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 1]}}, b"\0")
    text = b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}'
    f["bad_repeated_name"] = struct.pack("<Q", len(text)) + text + b"\0\0"
    f["bad_json"] = struct.pack("<Q", 10) + b'{"a": [1, ' + b"\0"
    f["bad_header_len"] = st_file({"a": one}, b"\0" * 8, length=2**40)
    f["bad_short"] = b"\x08\0\0"
    return f


def config_corpus():
    c = {}
    c["preset_dsv3"] = "preset=dsv3\nrows=3\nlayout=1\n"
    c["preset_mixtral_bf16"] = "preset=mixtral\nhidden=16\nrows=4\nx=bf16\nw=bf16\n"
    c["small_sigmoid"] = "hidden=8\nexperts=4\ntop_k=2\nscore=sigmoid\nrows=2\nseed=5\n"
    c["groups"] = ("hidden=4\nexperts=64\ntop_k=8\nscore=sigmoid\ngroups=8\ntopk_groups=4\nbias=1\n"
                   "rows=4\nlayout=1\n")
    c["softmax_fp32"] = "hidden=16\nexperts=8\ntop_k=2\nscore=softmax\ngemm=fp32\nrenormalize=0\nscale=2.5\n"
    c["bf16_mode"] = "hidden=8\nexperts=16\ntop_k=4\nscore=sqrtsoftplus\nrun_gemm=bf16\nrows=4\n"
    c["experts_1024"] = "hidden=2\nexperts=1024\ntop_k=32\nscore=sigmoid\ngroups=32\ntopk_groups=2\nrows=2\n"
    c["special_values"] = "hidden=8\nexperts=16\ntop_k=4\nscore=sigmoid\nspecial=1\nbias=1\nrows=4\n"
    c["special_validate"] = "hidden=8\nexperts=16\ntop_k=4\nscore=softmax\nspecial=1\nvalidate=1\nrows=4\n"
    c["hash"] = "hidden=8\nexperts=16\ntop_k=4\nscore=sqrtsoftplus\nhash=1\nrows=4\n"
    c["hash_bad_id"] = "hidden=8\nexperts=16\ntop_k=4\nscore=sqrtsoftplus\nhash=2\nrows=4\n"
    c["no_rows"] = "hidden=8\nexperts=4\ntop_k=4\nscore=sigmoid\nrows=0\nlayout=1\n"
    # Near-valid.
    c["bad_k_gt_e"] = "hidden=8\nexperts=4\ntop_k=5\nscore=sigmoid\n"
    c["bad_k_gt_32"] = "hidden=8\nexperts=64\ntop_k=33\nscore=sigmoid\n"
    c["bad_e_gt_1024"] = "hidden=8\nexperts=1025\ntop_k=2\nscore=sigmoid\n"
    c["bad_groups_divide"] = "hidden=8\nexperts=10\ntop_k=2\nscore=sigmoid\ngroups=3\ntopk_groups=1\n"
    c["bad_topk_groups"] = "hidden=8\nexperts=16\ntop_k=2\nscore=sigmoid\ngroups=4\ntopk_groups=5\n"
    c["bad_group_reach"] = "hidden=8\nexperts=16\ntop_k=5\nscore=sigmoid\ngroups=4\ntopk_groups=1\n"
    c["bad_scale_inf"] = "hidden=8\nexperts=4\ntop_k=2\nscore=sigmoid\nscale=inf\n"
    c["bad_scale_nan"] = "hidden=8\nexperts=4\ntop_k=2\nscore=sigmoid\nscale=nan\n"
    c["bad_score_enum"] = "hidden=8\nexperts=4\ntop_k=2\nscore=3\n"
    c["bad_gemm_name"] = "hidden=8\nexperts=4\ntop_k=2\nscore=sigmoid\ngemm=fp16\n"
    c["bad_hidden_huge"] = "hidden=9223372036854775807\nexperts=1024\ntop_k=32\nscore=softmax\n"
    c["bad_negative"] = "hidden=-1\nexperts=-4\ntop_k=-2147483648\ngroups=-1\n"
    c["bad_preset"] = "preset=dsv5\n"
    # The CLI's path.
    c["opt_preset"] = "opt.preset=dsv4-flash\nopt.top_k=8\nopt.hidden=4\nrows=2\n"
    c["opt_fields"] = "opt.hidden=8\nopt.experts=16\nopt.top_k=4\nopt.score=softmax\nopt.no_renormalize=1\n"
    c["opt_missing"] = "opt.hidden=8\nopt.score=sigmoid\n"
    c["opt_bad_score"] = "opt.hidden=8\nopt.experts=16\nopt.top_k=4\nopt.score=relu\n"
    ds = {"hidden_size": 8, "n_routed_experts": 16, "num_experts_per_tok": 4, "scoring_func": "sigmoid",
          "n_group": 4, "topk_group": 2, "routed_scaling_factor": 2.5, "norm_topk_prob": True,
          "topk_method": "noaux_tc"}
    c["json_deepseek"] = "rows=2\njson=" + json.dumps(ds, indent=1)
    c["json_deepseek_own"] = "json=" + json.dumps({"dim": 8, "n_routed_experts": 8, "n_activated_experts": 2,
                                                   "score_func": "sqrtsoftplus", "route_scale": 1.5,
                                                   "n_expert_groups": 1, "n_limited_groups": 1})
    c["json_mixtral"] = "opt.hidden=16\njson=" + json.dumps({"text_config": {"hidden_size": 4096,
                                                             "num_local_experts": 8, "num_experts_per_tok": 2}})
    c["json_greedy"] = "json=" + json.dumps({"hidden_size": 8, "num_experts": 8, "num_experts_per_tok": 2,
                                             "topk_method": "greedy", "n_group": 3})
    c["json_bad_type"] = "json=" + json.dumps({"hidden_size": "8", "num_experts": 8})
    c["json_bad_score"] = "json=" + json.dumps({"hidden_size": 8, "num_experts": 8, "num_experts_per_tok": 2,
                                                "scoring_func": "relu"})
    c["json_huge_numbers"] = "json=" + '{"hidden_size": 1e400, "num_experts": 18446744073709551615, ' \
                             '"num_experts_per_tok": -9223372036854775808, "routed_scaling_factor": 1e39}'
    c["json_malformed"] = 'json={"hidden_size": 8,'
    return {k: v.encode() for k, v in c.items()}


def regression_seeds():
    """Inputs that found bugs (see the comments), as small as they can be. Crash inputs libFuzzer
    finds later are copied in by hand as regress_<what>, and kept by the cleanup in main()."""
    npy, st, cfg = {}, {}, {}
    # An empty array whose other extents multiply past int64: numel() and view() overflowed.
    npy["regress_zero_extent_overflow"] = npy_raw(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 0), }")
    npy["regress_zero_extent_overflow_rank4"] = npy_raw(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (0, 65536, 65536, 4294967296), }")
    # The same in a safetensors header: StTensorInfo::numel() and load()'s strides overflowed.
    st["regress_zero_extent_overflow"] = st_file(
        {"w": {"dtype": "F32", "shape": [0, 4294967296, 4294967296], "data_offsets": [0, 0]}})
    # Deep JSON: dump() in error messages recursed once per level (a million levels overflowed the
    # stack); now anything past 64 levels is an error. These nest 65 and 64 levels.
    deep = "[" * 63 + "]" * 63
    text = ('{"w":{"dtype":"U8","shape":' + deep + ',"data_offsets":[0,0]}}').encode()
    st["regress_json_depth_65"] = struct.pack("<Q", len(text)) + text
    text = ('{"w":{"dtype":"U8","shape":' + deep[1:-1] + ',"data_offsets":[0,0]}}').encode()
    st["regress_json_depth_64"] = struct.pack("<Q", len(text)) + text
    cfg["regress_json_depth_65"] = ('json={"hidden_size":' + "[" * 64 + "]" * 64 + "}").encode()
    cfg["regress_json_depth_64"] = ('json={"hidden_size":' + "[" * 63 + "]" * 63 + "}").encode()
    # config.json integers past int were narrowed silently: 2^32 + 2 experts per token became 2.
    cfg["regress_json_int_wrap"] = ("opt.hidden=8\njson=" + json.dumps(
        {"hidden_size": 8, "num_experts": 8, "num_experts_per_tok": 2**32 + 2, "scoring_func": "softmax",
         "n_group": 2**31})).encode()
    cfg["regress_json_uint64"] = ('json={"hidden_size": 18446744073709551615, "num_experts": 8, '
                                  '"num_experts_per_tok": 2, "scoring_func": "softmax"}').encode()
    return npy, st, cfg


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    total = 0
    r_npy, r_st, r_cfg = regression_seeds()
    for sub, files, regress in (("npy", npy_corpus(), r_npy), ("safetensors", st_corpus(), r_st),
                                ("config", config_corpus(), r_cfg)):
        d = os.path.join(out, sub)
        os.makedirs(d, exist_ok=True)
        for name in os.listdir(d):  # regenerate the seeds, keep the regression inputs
            if not name.startswith("regress_"):
                os.remove(os.path.join(d, name))
        files = dict(files, **regress)
        for name, data in sorted(files.items()):
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(data)
            total += len(data)
        print(f"{sub}: {len(files)} seeds")
    print(f"{total} bytes of seeds")


if __name__ == "__main__":
    main()
