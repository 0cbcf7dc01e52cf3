"""Inputs are used where they lie (DLPack or the buffer protocol, never a copy) and outputs are
plain arrays of the caller's library that the core wrote into."""
import numpy as np
import pytest

import moerouter
from moerouter import _moerouter
from inputs import make_inputs


def test_contiguous_input_is_not_copied():
    x = np.ones((4, 8), np.float32)
    info = _moerouter._view_info(x)
    assert info["data"] == x.ctypes.data
    assert (info["shape"], info["strides"], info["dtype"], info["via"]) == ([4, 8], [8, 1], "float32", "dlpack")


def test_row_strided_view_routes_in_place():
    cfg = moerouter.preset("dsv4-flash")
    x, weight, _ = make_inputs(cfg, 24, seed=20)
    padded = np.full((24, cfg.hidden + 64), np.nan, np.float32)  # NaN padding: read it and it shows
    padded[:, :cfg.hidden] = x
    view = padded[:, :cfg.hidden]
    assert not view.flags.c_contiguous
    info = _moerouter._view_info(view)
    assert info["data"] == padded.ctypes.data and info["strides"] == [cfg.hidden + 64, 1]

    router = moerouter.Router(cfg, weight)
    strided = router.route(view, validate=True)  # validate: a NaN read from the padding would raise
    dense = router.route(np.ascontiguousarray(view))
    assert strided.weights.tobytes() == dense.weights.tobytes()
    assert strided.ids.tobytes() == dense.ids.tobytes()
    # Every other row: a row stride of 2 * (H + 64) elements, still no copy.
    every_other = router.route(padded[::2, :cfg.hidden])
    assert every_other.ids.tobytes() == dense.ids[::2].tobytes()


def test_non_unit_inner_stride_is_refused_not_copied():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 4, seed=21)
    wide = np.repeat(x, 2, axis=1)
    with pytest.raises(moerouter.Error, match="x: .*unit inner stride") as e:
        moerouter.Router(cfg, weight).route(wide[:, ::2])
    assert e.value.code == "layout_unsupported"


def test_read_only_arrays_use_the_buffer_protocol():
    # numpy will not export read-only arrays through DLPack; the buffer protocol still avoids a copy.
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 6, seed=22)
    frozen = x.copy()
    frozen.flags.writeable = False
    info = _moerouter._view_info(frozen)
    assert info["via"] == "buffer" and info["data"] == frozen.ctypes.data
    router = moerouter.Router(cfg, weight)
    assert router.route(frozen).ids.tobytes() == router.route(x).ids.tobytes()


def test_outputs_are_fresh_owned_arrays():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 5, seed=23)
    weights, ids = moerouter.Router(cfg, weight).route(x)
    for out in (weights, ids):
        assert out.flags.c_contiguous and out.flags.owndata and out.flags.writeable
    # And they travel on zero-copy themselves.
    assert np.from_dlpack(ids).ctypes.data == ids.ctypes.data


def test_buffer_protocol_objects_without_dlpack():
    cfg = moerouter.Config(hidden=4, experts=4, top_k=2, score="softmax")
    weight = np.eye(4, dtype=np.float32)
    x = np.array([[0, 0, 3, 1]], np.float32)
    _, ids = moerouter.Router(cfg, memoryview(weight)).route(memoryview(x))
    assert ids.tolist() == [[2, 3]]


def test_empty_arrays_with_odd_strides():
    # numpy 2 exports a (0, H) array with strides [0, 0]; an empty tensor's strides mean nothing.
    cfg = moerouter.preset("mixtral")
    _, weight, _ = make_inputs(cfg, 1, seed=24)
    empty = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape=(0, cfg.hidden), strides=(0, 0))
    weights, ids = moerouter.Router(cfg, weight).route(empty)
    assert weights.shape == (0, 2) and ids.shape == (0, 2)
