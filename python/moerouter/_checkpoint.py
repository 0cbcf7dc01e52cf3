"""Router tensors straight from .safetensors checkpoints, in pure Python (numpy).

    layer = moerouter.load_router_layer("DeepSeek-V4-Flash/", 3)
    router = moerouter.Router(cfg, layer.weight, layer.bias)
    weights, ids = router.route(x)

A checkpoint is one .safetensors file, a directory of them, or a sharded directory with
model.safetensors.index.json. Both namings are known: Hugging Face's
`model.layers.{i}.mlp.gate.weight` / `.e_score_correction_bias` and DeepSeek's own
`layers.{i}.ffn.gate.weight` / `.bias` / `.tid2eid` (hash-routed layers). The same checks as the
C++ reader (tools/io) apply: header length, JSON shape, offsets inside the file, no overlapping
ranges, byte size == prod(shape) * dtype size; a bad file raises moerouter.Error('io_error').
"""
import collections
import json
import os
import re
import struct

from ._arrays import bf16_bits
from ._errors import error

INDEX_NAME = "model.safetensors.index.json"
_MAX_HEADER = 100 << 20  # a router checkpoint's header is kilobytes; refuse absurd lengths

# safetensors dtype -> (bits per element, numpy dtype name or None when numpy cannot hold it)
_DTYPES = {
    "BOOL": (8, "bool"), "U8": (8, "uint8"), "I8": (8, "int8"), "F8_E4M3": (8, None),
    "F8_E5M2": (8, None), "F8_E8M0": (8, None), "F4": (4, None), "F6_E2M3": (6, None),
    "F6_E3M2": (6, None), "I16": (16, "<i2"), "U16": (16, "<u2"), "F16": (16, "<f2"),
    "BF16": (16, "<u2"), "I32": (32, "<i4"), "U32": (32, "<u4"), "F32": (32, "<f4"),
    "I64": (64, "<i8"), "U64": (64, "<u8"), "F64": (64, "<f8"),
}

# (naming, weight, bias, tid2eid) name patterns; {i} is the layer index.
_NAMINGS = (
    ("hf", "model.layers.{i}.mlp.gate.weight", "model.layers.{i}.mlp.gate.e_score_correction_bias",
     None),
    ("deepseek", "layers.{i}.ffn.gate.weight", "layers.{i}.ffn.gate.bias",
     "layers.{i}.ffn.gate.tid2eid"),
)
_WEIGHT_RE = re.compile(r"^(?:model\.layers\.(\d+)\.mlp|layers\.(\d+)\.ffn)\.gate\.weight$")

RouterLayer = collections.namedtuple("RouterLayer", "weight bias tid2eid naming")
RouterLayer.__doc__ = """One layer's router tensors, ready for moerouter.Router / Router.route.

    weight   [E, H]: float32 numpy array, or moerouter.bf16_bits(uint16 array) for BF16
    bias     [E] float32 or None (BF16 biases are widened to float32, exactly)
    tid2eid  [vocab, k] int32/int64 for hash-routed layers (pass as route(hash_table=...)), or None
    naming   "hf" or "deepseek"
"""
RouterLayer.__module__ = "moerouter"


def _fail(path, message):
    return error("io_error", f"'{path}': {message}")


class _Tensor(collections.namedtuple("_Tensor", "file name dtype shape begin end")):
    pass


def read_header(path):
    """{tensor name: _Tensor} of one .safetensors file, every entry checked against the file."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise _fail(path, f"expected an 8-byte header length, got a {size}-byte file")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_HEADER or 8 + n > size:
                raise _fail(path, f"header length: expected at most {min(_MAX_HEADER, size - 8)} "
                                  f"bytes, got {n}")
            text = f.read(n)
    except OSError as e:
        raise _fail(path, e.strerror or str(e)) from None
    try:
        root = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _fail(path, f"header: expected JSON, got {e}") from None
    if not isinstance(root, dict):
        raise _fail(path, f"header: expected a JSON object, got {type(root).__name__}")
    data_size = size - 8 - n
    tensors = {}
    for name, entry in root.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise _fail(path, f"tensor '{name}': expected an object {{dtype, shape, data_offsets}}, "
                              f"got {json.dumps(entry)}")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _DTYPES:
            raise _fail(path, f"tensor '{name}': unknown dtype {dtype!r} (expected one of "
                              f"{', '.join(_DTYPES)})")
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            raise _fail(path, f"tensor '{name}': shape: expected a list of non-negative integers, "
                              f"got {json.dumps(shape)}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_count, offsets))
                or offsets[0] > offsets[1]):
            raise _fail(path, f"tensor '{name}': data_offsets: expected [begin, end] with "
                              f"0 <= begin <= end, got {json.dumps(offsets)}")
        begin, end = offsets
        if end > data_size:
            raise _fail(path, f"tensor '{name}': offsets out of file: [{begin}, {end}] past the "
                              f"{data_size} data bytes")
        count = 1
        for d in shape:
            count *= d
        bits = count * _DTYPES[dtype][0]
        if bits % 8 or bits // 8 != end - begin:
            raise _fail(path, f"tensor '{name}': size mismatch: shape {shape} of {dtype} needs "
                              f"{bits / 8:g} bytes, data_offsets hold {end - begin}")
        tensors[name] = _Tensor(path, name, dtype, tuple(shape), begin, end)
    ranges = sorted((t.begin, t.end, t.name) for t in tensors.values() if t.end > t.begin)
    for (_, e0, a), (b1, _, b) in zip(ranges, ranges[1:]):
        if b1 < e0:
            raise _fail(path, f"overlapping data ranges: tensors '{a}' and '{b}'")
    return tensors, 8 + n


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _shards(path):
    """[(shard file, the names the index puts there or None)] of a checkpoint path."""
    if os.path.isfile(path):
        return [(path, None)]
    if not os.path.isdir(path):
        raise _fail(path, "no such file or directory")
    index = os.path.join(path, INDEX_NAME)
    if os.path.isfile(index):
        try:
            with open(index, "rb") as f:
                root = json.loads(f.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise _fail(index, f"expected JSON, got {e}") from None
        weight_map = root.get("weight_map") if isinstance(root, dict) else None
        if not isinstance(weight_map, dict):
            raise _fail(index, 'expected an object with a "weight_map" object (tensor name -> '
                               'shard file)')
        files = {}
        for tensor, shard in weight_map.items():
            parts = shard.replace("\\", "/").split("/") if isinstance(shard, str) else []
            if not parts or not shard or os.path.isabs(shard) or ".." in parts:
                raise _fail(index, f"weight_map: tensor '{tensor}': expected a shard file inside "
                                   f"the checkpoint directory, got {json.dumps(shard)}")
            files.setdefault(os.path.join(path, shard), set()).add(tensor)
        return sorted(files.items())
    files = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
    if not files:
        raise _fail(path, f"expected .safetensors files or {INDEX_NAME}, found neither")
    return [(os.path.join(path, f), None) for f in files]


def _catalog(path):
    """{tensor name: _Tensor} over all shards, plus each shard's data start."""
    catalog, starts = {}, {}
    for file, names in _shards(path):
        tensors, starts[file] = read_header(file)
        for name, t in tensors.items():
            if names is not None and name not in names:
                continue  # the index puts this name elsewhere (or nowhere): not ours to read
            if name in catalog:
                raise _fail(path, f"tensor '{name}' is in both '{catalog[name].file}' and '{file}'")
            catalog[name] = t
        for name in names or ():
            if name not in tensors:
                raise _fail(path, f"{INDEX_NAME} puts tensor '{name}' in '{file}', which has no "
                                  "such tensor")
    return catalog, starts


def router_layers(path):
    """Sorted indices of the layers whose gate weight the checkpoint holds (either naming)."""
    catalog, _ = _catalog(path)
    return _layers(catalog)


def _layers(catalog):
    found = set()
    for name in catalog:
        m = _WEIGHT_RE.match(name)
        if m:
            found.add(int(m.group(1) or m.group(2)))
    return sorted(found)


def _read(t, start):
    import numpy as np
    np_dtype = _DTYPES[t.dtype][1]
    if np_dtype is None:
        raise error("dtype_mismatch", f"'{t.name}': dtype: expected F32, BF16, I32 or I64, got {t.dtype}")
    with open(t.file, "rb") as f:
        f.seek(start + t.begin)
        raw = bytearray(t.end - t.begin)
        if f.readinto(raw) != len(raw):
            raise _fail(t.file, f"tensor '{t.name}': file ended inside its data")
    # The checkpoint is little-endian; native byte order for the router.
    return np.frombuffer(raw, dtype=np_dtype).astype(np.dtype(np_dtype).newbyteorder("="),
                                                       copy=False).reshape(t.shape)


def load_router_layer(path, layer):
    """Layer `layer`'s router tensors from the checkpoint at `path` (file or directory), as a
    RouterLayer(weight, bias, tid2eid, naming). Raises moerouter.Error('io_error') for malformed
    files and for a layer the checkpoint has no router for (naming the layers it has)."""
    import numpy as np
    path = os.fspath(path)
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
        raise error("invalid_argument", f"layer: expected a non-negative int, got {layer!r}")
    catalog, starts = _catalog(path)
    for naming, w_name, b_name, t_name in _NAMINGS:
        w_name = w_name.format(i=layer)
        if w_name not in catalog:
            continue
        w = catalog[w_name]
        if len(w.shape) != 2 or w.dtype not in ("F32", "BF16"):
            raise error("dtype_mismatch" if len(w.shape) == 2 else "shape_mismatch",
                        f"'{w_name}': expected a [experts, hidden] F32 or BF16 tensor, got "
                        f"{list(w.shape)} {w.dtype}")
        weight = _read(w, starts[w.file])
        weight = bf16_bits(weight) if w.dtype == "BF16" else weight
        bias = tid2eid = None
        b = catalog.get(b_name.format(i=layer))
        if b is not None:
            if b.shape != (w.shape[0],) or b.dtype not in ("F32", "BF16"):
                raise error("shape_mismatch", f"'{b.name}': expected [{w.shape[0]}] F32 or BF16, "
                                              f"got {list(b.shape)} {b.dtype}")
            bias = _read(b, starts[b.file])
            if b.dtype == "BF16":  # exact: bf16 is the top half of a float32
                bias = (bias.astype(np.uint32) << 16).view(np.float32)
        t = catalog.get(t_name.format(i=layer)) if t_name else None
        if t is not None:
            if len(t.shape) != 2 or t.dtype not in ("I32", "I64"):
                raise error("shape_mismatch", f"'{t.name}': expected a [vocab, top_k] I32 or I64 "
                                              f"tensor, got {list(t.shape)} {t.dtype}")
            tid2eid = _read(t, starts[t.file])
        return RouterLayer(weight, bias, tid2eid, naming)
    raise _fail(path, f"layer: expected one of the router layers {_layers(catalog)}, got {layer}")
