"""route(layout=True): the dispatch layout (counts [E], expert_offsets [E+1], token_slots [N*k],
int64) that a grouped expert GEMM consumes, filled by the C++ core into arrays of the input's own
library on the input's device; consistent with the ids, bit-identical across thread counts and
backends."""
import numpy as np
import pytest

import moerouter
import np_reference
from inputs import make_inputs


def to_numpy(a):
    """A host numpy copy of a numpy array, torch tensor or cupy array."""
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get"):  # cupy
        return a.get()
    return a.cpu().numpy()  # torch


def assert_layout_consistent(ids, layout, experts):
    """The contract of RouteOptions::expert_offsets_out / token_slots_out (router.hpp)."""
    ids, (counts, offsets, slots) = to_numpy(ids), (to_numpy(a) for a in layout)
    flat = ids.ravel()
    nk = flat.size
    assert counts.dtype == offsets.dtype == slots.dtype == np.int64
    assert (counts.shape, offsets.shape, slots.shape) == ((experts,), (experts + 1,), (nk,))
    assert offsets[0] == 0 and offsets[experts] == nk
    np.testing.assert_array_equal(np.diff(offsets), counts)
    np.testing.assert_array_equal(counts, np.bincount(flat, minlength=experts))
    np.testing.assert_array_equal(np.sort(slots), np.arange(nk))  # a permutation of the slots
    for e in range(experts):
        group = slots[offsets[e]:offsets[e + 1]]
        assert (flat[group] == e).all(), f"expert {e}: slots of other experts in its range"
        assert (np.diff(group) > 0).all(), f"expert {e}: slots not ascending"
    # All of the above in one line: the stable sort of the slots by expert id.
    np.testing.assert_array_equal(slots, np.argsort(flat, kind="stable"))


@pytest.mark.parametrize("name, n", [("dsv4-flash", 64), ("dsv3", 48), ("qwen3-moe", 40),
                                     ("mixtral", 257)])
def test_layout_is_consistent_with_the_ids(name, n):
    cfg = moerouter.preset(name)
    x, weight, bias = make_inputs(cfg, n, seed=90, bias=cfg.score != "softmax")
    result = moerouter.Router(name, weight, bias).route(x, layout=True)
    assert isinstance(result.layout, moerouter.DispatchLayout)
    assert all(isinstance(a, np.ndarray) and a.flags.c_contiguous and a.flags.owndata
               for a in result.layout)
    assert_layout_consistent(result.ids, result.layout, cfg.experts)
    # The same call without the layout routes to the same bits.
    plain = moerouter.Router(name, weight, bias).route(x)
    assert plain.layout is None
    assert plain.ids.tobytes() == result.ids.tobytes()
    assert plain.weights.tobytes() == result.weights.tobytes()


def test_layout_with_many_ties_is_stable(small_problem):
    # Integer-valued inputs on a few experts: many tokens per expert, and exact score ties.
    cfg = moerouter.Config(hidden=16, experts=4, top_k=2, score="softmax", renormalize=True)
    rng = np.random.default_rng(91)
    x = rng.integers(-2, 3, size=(300, cfg.hidden)).astype(np.float32)
    weight = rng.integers(-1, 2, size=(cfg.experts, cfg.hidden)).astype(np.float32)
    result = moerouter.Router(cfg, weight).route(x, layout=True)
    assert_layout_consistent(result.ids, result.layout, cfg.experts)
    # ... and for the group-limited fixture config.
    cfg, x, weight, bias = small_problem
    result = moerouter.Router(cfg, weight, bias).route(x, layout=True)
    assert_layout_consistent(result.ids, result.layout, cfg.experts)


def test_layout_is_bit_identical_across_threads():
    cfg = moerouter.preset("dsv3")
    x, weight, bias = make_inputs(cfg, 129, seed=92, bias=True)
    router = moerouter.Router(cfg, weight, bias)
    one = router.route(x, layout=True, threads=1)
    two = router.route(x, layout=True, threads=2)
    assert one.ids.tobytes() == two.ids.tobytes()
    for a, b in zip(one.layout, two.layout):
        assert a.tobytes() == b.tobytes()
    for threads in (0, 3):
        again = router.route(x, layout=True, threads=threads)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(one.layout, again.layout))


def test_layout_and_counts_together():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 33, seed=93)
    router = moerouter.Router(cfg, weight)
    both = router.route(x, counts=True, layout=True)
    assert both.counts is both.layout.counts  # one array, filled once
    only_layout = router.route(x, layout=True)
    assert only_layout.counts is None
    np.testing.assert_array_equal(only_layout.layout.counts, both.counts)
    only_counts = router.route(x, counts=True)
    assert only_counts.layout is None
    np.testing.assert_array_equal(only_counts.counts, both.counts)
    counts, offsets, slots = both.layout  # a namedtuple: unpacks too
    assert offsets is both.layout.expert_offsets and slots is both.layout.token_slots


def test_layout_with_hash_routing():
    cfg = moerouter.preset("dsv4-flash")
    x, weight, _ = make_inputs(cfg, 20, seed=94)
    rng = np.random.default_rng(94)
    table = np.stack([rng.permutation(cfg.experts)[:cfg.top_k] for _ in range(30)]).astype(np.int64)
    token_ids = rng.integers(0, 30, size=20).astype(np.int32)
    result = moerouter.Router(cfg, weight).route(x, token_ids=token_ids, hash_table=table,
                                                 layout=True)
    np.testing.assert_array_equal(result.ids, table[token_ids])
    assert_layout_consistent(result.ids, result.layout, cfg.experts)


def test_layout_of_an_empty_batch():
    cfg = moerouter.preset("mixtral")
    _, weight, _ = make_inputs(cfg, 1, seed=95)
    result = moerouter.Router(cfg, weight).route(np.zeros((0, cfg.hidden), np.float32), layout=True)
    counts, offsets, slots = result.layout
    assert counts.tolist() == [0] * 8 and offsets.tolist() == [0] * 9 and slots.shape == (0,)


def test_layout_gathers_tokens_per_expert():
    # What a grouped GEMM does with it: the rows of x routed to expert e, in token order.
    cfg = moerouter.preset("qwen3-moe")
    x, weight, _ = make_inputs(cfg, 24, seed=96)
    result = moerouter.Router(cfg, weight).route(x, layout=True)
    counts, offsets, slots = result.layout
    tokens = slots // cfg.top_k
    for e in np.flatnonzero(counts)[:5]:
        expected = np.flatnonzero((result.ids == e).any(axis=1))  # ids in a row are distinct
        np.testing.assert_array_equal(tokens[offsets[e]:offsets[e + 1]], expected)
        np.testing.assert_array_equal(result.weights.ravel()[slots[offsets[e]:offsets[e + 1]]],
                                      result.weights[expected][result.ids[expected] == e])


def test_bf16_bits_layout_equals_float32_layout():
    cfg = moerouter.preset("dsv4-flash")
    x, weight, _ = make_inputs(cfg, 12, seed=97)
    x_values, x_bits = np_reference.round_to_bf16(x)
    router = moerouter.Router(cfg, weight)
    a = router.route(moerouter.bf16_bits(x_bits), layout=True)
    b = router.route(x_values, layout=True)
    assert all(p.tobytes() == q.tobytes() for p, q in zip(a.layout, b.layout))


# --- other libraries and devices --------------------------------------------------------------

def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _cuda_ready():
    torch = _torch()
    return (torch is not None and torch.cuda.is_available()
            and moerouter.device_available("cuda"))


def test_torch_cpu_layout():
    torch = pytest.importorskip("torch")
    cfg = moerouter.preset("dsv4-flash")
    x, weight, _ = make_inputs(cfg, 40, seed=98)
    router = moerouter.Router(cfg, torch.from_numpy(weight))
    as_torch = router.route(torch.from_numpy(x), layout=True)
    as_numpy = router.route(x, layout=True)
    for t, n in zip(as_torch.layout, as_numpy.layout):
        assert isinstance(t, torch.Tensor) and t.dtype == torch.int64 and t.device.type == "cpu"
        assert t.numpy().tobytes() == n.tobytes()


@pytest.mark.skipif(not _cuda_ready(), reason="no CUDA device (or torch, or the CUDA backend)")
def test_cuda_layout_on_device_equals_cpu():
    torch = _torch()
    cfg = moerouter.preset("dsv3")
    x, weight, bias = make_inputs(cfg, 300, seed=99, bias=True)
    xt, wt, bt = (torch.from_numpy(a) for a in (x, weight, bias))
    gpu = moerouter.Router(cfg, wt.cuda(), bt.cuda()).route(xt.cuda(), counts=True, layout=True)
    cpu = moerouter.Router(cfg, weight, bias, device="cpu").route(x, counts=True, layout=True)
    torch.cuda.synchronize()
    assert gpu.stats.device == "cuda"
    for g, c in zip(gpu.layout, cpu.layout):
        assert g.is_cuda and g.device == xt.cuda().device and g.dtype == torch.int64
        assert g.cpu().numpy().tobytes() == c.tobytes()
    assert gpu.counts is gpu.layout.counts
    assert_layout_consistent(gpu.ids, gpu.layout, cfg.experts)


@pytest.mark.skipif(not _cuda_ready(), reason="no CUDA device (or torch, or the CUDA backend)")
def test_cuda_layout_on_a_side_stream():
    torch = _torch()
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 500, seed=100)
    router = moerouter.Router(cfg, torch.from_numpy(weight).cuda())
    expected = moerouter.Router(cfg, weight, device="cpu").route(x, layout=True)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        xs = torch.from_numpy(x).cuda() * 1.0  # produced on `stream`: the router runs after it
        got = router.route(xs, layout=True)
        slots = got.layout.token_slots.clone()  # ordered after the router on the same stream
    stream.synchronize()
    assert slots.cpu().numpy().tobytes() == expected.layout.token_slots.tobytes()


def test_cupy_layout():
    cupy = pytest.importorskip("cupy")
    try:
        devices = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError:
        devices = 0
    if devices == 0 or not moerouter.device_available("cuda"):
        pytest.skip("no CUDA device (or the CUDA backend)")
    cfg = moerouter.preset("dsv4-flash")
    x, weight, _ = make_inputs(cfg, 64, seed=101)
    result = moerouter.Router(cfg, cupy.asarray(weight)).route(cupy.asarray(x), layout=True)
    cpu = moerouter.Router(cfg, weight, device="cpu").route(x, layout=True)
    for g, c in zip(result.layout, cpu.layout):
        assert isinstance(g, cupy.ndarray) and g.get().tobytes() == c.tobytes()
