"""Bad input raises moerouter.Error with a code and a message naming the argument; nothing is
written to the outputs."""
import numpy as np
import pytest

import moerouter
from inputs import make_inputs


@pytest.fixture
def mixtral():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 3, seed=30)
    return cfg, x, weight, moerouter.Router(cfg, weight)


def raises(code, pattern):
    """pytest.raises for a moerouter.Error with this code and message."""
    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(moerouter.Error, match=pattern)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            suppressed = self.ctx.__exit__(*exc)
            assert self.info.value.code == code, self.info.value
            return suppressed
    return Check()


def test_error_class():
    assert issubclass(moerouter.Error, RuntimeError)
    assert "shape_mismatch" in moerouter.ERROR_CODES and "non_finite_input" in moerouter.ERROR_CODES


def test_x_hidden_mismatch(mixtral):
    cfg, x, _, router = mixtral
    with raises("shape_mismatch", r"x: expected shape \[N, 4096\] \(hidden\), got shape \[3, 4095\]"):
        router.route(x[:, :-1])


def test_x_rank(mixtral):
    _, x, _, router = mixtral
    with raises("shape_mismatch", r"x: expected 2 dims"):
        router.route(x.reshape(3, 2, -1))
    with raises("shape_mismatch", r"x: expected 2 dims"):
        router.route(x[0])


@pytest.mark.parametrize("dtype, pattern", [
    (np.float64, r"x: expected float32, bfloat16, int32 or int64, got float64"),
    (np.float16, r"x: expected .*got float16"),
    (np.int32, r"x: expected float32 or bfloat16, got int32"),
])
def test_x_dtype(mixtral, dtype, pattern):
    _, x, _, router = mixtral
    with raises("dtype_mismatch", pattern):
        router.route(x.astype(dtype))


def test_not_an_array(mixtral):
    _, x, _, router = mixtral
    with raises("invalid_argument", r"x: expected a DLPack-capable array .*got an object of type list"):
        router.route(x.tolist())


def test_weight_and_bias_checked_at_construction():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 2, seed=31)
    with raises("shape_mismatch", r"weight: expected shape \[8, 4096\], got shape \[7, 4096\]"):
        moerouter.Router(cfg, weight[:7])
    with raises("dtype_mismatch", r"bias: expected float32, got int32"):
        moerouter.Router(cfg, weight, np.zeros(8, np.int32))
    with raises("dtype_mismatch", r"bias: expected .*got float64"):
        moerouter.Router(cfg, weight, np.zeros(8))
    with raises("shape_mismatch", r"bias: expected shape \[8\]"):
        moerouter.Router(cfg, weight, np.zeros(9, np.float32))


def test_router_arguments():
    cfg = moerouter.preset("mixtral")
    _, weight, _ = make_inputs(cfg, 1, seed=32)
    with raises("invalid_argument", r"device: expected 'auto', 'cpu' or 'cuda', got 'tpu'"):
        moerouter.Router(cfg, weight, device="tpu")
    with raises("invalid_argument", r"gemm"):
        moerouter.Router(cfg, weight, gemm="fp8")
    with raises("invalid_argument", r"config: expected a preset name"):
        moerouter.Router(42, weight)


def test_cuda_router_without_cuda():
    if moerouter.device_available("cuda"):
        pytest.skip("a CUDA device is present")
    cfg = moerouter.preset("mixtral")
    _, weight, _ = make_inputs(cfg, 1, seed=33)
    with raises("backend_unavailable", r"device"):
        moerouter.Router(cfg, weight, device="cuda")


def test_route_options(mixtral):
    _, x, _, router = mixtral
    with raises("invalid_argument", r"gemm"):
        router.route(x, gemm="fp8")
    with raises("invalid_argument", r"threads"):
        router.route(x, threads=-1)


def test_hash_routing_arguments(mixtral):
    cfg, x, _, router = mixtral
    table = np.tile(np.arange(2, dtype=np.int32), (5, 1))
    with raises("invalid_argument", r"hash routing: expected both token_ids and hash_table"):
        router.route(x, token_ids=np.zeros(3, np.int32))
    with raises("invalid_argument", r"token_ids\[2\]: expected a token id in \[0, 5\), got 9"):
        router.route(x, token_ids=np.array([0, 1, 9], np.int32), hash_table=table)
    with raises("shape_mismatch", r"token_ids: expected shape \[3\]"):
        router.route(x, token_ids=np.zeros(4, np.int32), hash_table=table)
    with raises("dtype_mismatch", r"token_ids: expected int32 or int64, got float32"):
        router.route(x, token_ids=np.zeros(3, np.float32), hash_table=table)


def test_validate_names_the_first_non_finite_row(mixtral):
    _, x, _, router = mixtral
    bad = x.copy()
    bad[1, 5] = np.nan
    with raises("non_finite_input", r"x\[1\]"):
        router.route(bad, validate=True)
    # Without validate the row is counted, not raised.
    assert router.route(bad).stats.first_nonfinite_row == 1


def test_device_pinned_router_refuses_other_memory():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 2, seed=34)
    with raises("device_mismatch", r"x: expected a tensor in cpu memory"):
        moerouter.Router(cfg, weight, device="cpu").route(torch.from_numpy(x).cuda())


def test_failed_call_leaves_outputs_untouched(mixtral):
    # Router.route never hands out outputs of a failed call; underneath, the core does not write
    # into them either. Checked on the binding directly with sentinel-filled outputs and an error
    # found only late (a token id's value, after every shape and dtype passed).
    cfg, x, _, router = mixtral
    backend = router._backend(("cpu", 0))
    weights = np.full((3, 2), 7.0, np.float32)
    ids = np.full((3, 2), -7, np.int32)
    counts = np.full(8, -7, np.int64)
    offsets = np.full(9, -7, np.int64)
    slots = np.full(6, -7, np.int64)
    layout = dict(counts_out=counts, expert_offsets_out=offsets, token_slots_out=slots)

    def untouched():
        return ((weights == 7.0).all() and (ids == -7).all() and (counts == -7).all()
                and (offsets == -7).all() and (slots == -7).all())

    table = np.tile(np.arange(2, dtype=np.int32), (5, 1))
    with raises("invalid_argument", r"token_ids\[2\]"):
        backend.route_into(x, weights, ids, **layout,
                           token_ids=np.array([0, 1, 5], np.int32), hash_table=table)
    assert untouched()
    bad = x.copy()
    bad[2, 0] = np.inf
    with raises("non_finite_input", r"x\[2\]"):
        backend.route_into(bad, weights, ids, **layout, validate=True)
    assert untouched()
    with raises("non_finite_input", r"x\[2\]"):
        router.route(bad, layout=True, validate=True)


def test_layout_outputs_are_checked(mixtral):
    # Router.route allocates them itself; the binding underneath still checks what it is given.
    _, x, _, router = mixtral
    backend = router._backend(("cpu", 0))
    weights, ids = np.zeros((3, 2), np.float32), np.zeros((3, 2), np.int32)
    with raises("shape_mismatch", r"expert_offsets_out: expected shape \[9\]"):
        backend.route_into(x, weights, ids, expert_offsets_out=np.zeros(8, np.int64))
    with raises("shape_mismatch", r"token_slots_out: expected shape \[6\]"):
        backend.route_into(x, weights, ids, token_slots_out=np.zeros(3, np.int64))
    with raises("dtype_mismatch", r"token_slots_out: expected int32 or int64, got float32"):
        backend.route_into(x, weights, ids, token_slots_out=np.zeros(6, np.float32))
    # int32 layouts are the core's too (Router.route asks for int64).
    offsets, slots = np.zeros(9, np.int32), np.zeros(6, np.int32)
    backend.route_into(x, weights, ids, expert_offsets_out=offsets, token_slots_out=slots)
    wide = router.route(x, layout=True).layout
    assert offsets.tolist() == wide.expert_offsets.tolist()
    assert slots.tolist() == wide.token_slots.tolist()


def test_read_only_output_is_refused(mixtral):
    _, x, _, router = mixtral
    weights = np.zeros((3, 2), np.float32)
    ids = np.zeros((3, 2), np.int32)
    ids.flags.writeable = False
    with raises("invalid_argument", r"ids_out"):
        router._backend(("cpu", 0)).route_into(x, weights, ids)


# --- README "Bad input", row by row: the code, "<argument>: expected <...>, got <...>" --------

_TOP_K = r"^invalid_argument: config\.top_k: expected 1 <= top_k <= min\(experts, 32\) = "


@pytest.mark.parametrize("fields, pattern", [
    (dict(top_k=0), _TOP_K + r"16, got 0$"),
    (dict(top_k=17), _TOP_K + r"16, got 17$"),
    (dict(experts=64, top_k=33), _TOP_K + r"32, got 33$"),
    (dict(experts=1025), r"^invalid_argument: config\.experts: expected 1 <= experts <= 1024, got 1025$"),
    (dict(groups=3), r"^invalid_argument: config\.groups: expected a divisor of experts = 16, got 3$"),
    (dict(groups=4, topk_groups=5),
     r"^invalid_argument: config\.topk_groups: expected 1 <= topk_groups <= min\(groups, 32\) = 4, got 5$"),
    (dict(groups=4, topk_groups=0),
     r"^invalid_argument: config\.topk_groups: expected 1 <= topk_groups <= min\(groups, 32\) = 4, got 0$"),
    (dict(top_k=3, groups=8, topk_groups=1),
     r"^invalid_argument: config\.top_k: expected at most topk_groups \* experts/groups = 2 experts left "
     r"after the group limit, got 3$"),
    (dict(scale=float("inf")), r"^invalid_argument: config\.scale: expected a finite number, got inf$"),
], ids=["k=0", "k>E", "k>32", "E>1024", "G not dividing E", "topk_groups>G", "topk_groups=0",
        "too few experts after the group limit", "scale inf"])
def test_bad_config_names_field_expected_and_actual(fields, pattern):
    base = dict(hidden=64, experts=16, top_k=2, score="sigmoid")
    with raises("invalid_argument", pattern):
        moerouter.Config(**{**base, **fields})


def test_topk_groups_is_ignored_without_groups():
    # README: topk_groups is checked only when groups > 1 (it is unused otherwise).
    assert moerouter.Config(hidden=64, experts=16, top_k=2, score="sigmoid", topk_groups=5).topk_groups == 5


def _sentinel_outputs(cfg, n):
    return (np.full((n, cfg.top_k), 7.0, np.float32), np.full((n, cfg.top_k), -7, np.int32),
            np.full(cfg.experts, -7, np.int64))


def test_hash_routing_values(mixtral):
    # Values are checked before anything is written; the table only in the rows the tokens use.
    cfg, x, _, router = mixtral
    backend = router._backend(("cpu", 0))
    weights, ids, counts = _sentinel_outputs(cfg, 3)
    table = np.tile(np.arange(2, dtype=np.int32), (5, 1))
    tokens = np.array([0, 1, 2], np.int32)

    def route(token_ids, hash_table):
        backend.route_into(x, weights, ids, counts_out=counts, token_ids=token_ids, hash_table=hash_table)

    with raises("invalid_argument", r"^invalid_argument: token_ids\[1\]: expected a token id in \[0, 5\), got -1$"):
        route(np.array([0, -1, 2], np.int32), table)
    with raises("invalid_argument", r"^invalid_argument: token_ids\[2\]: expected a token id in \[0, 5\), got 5$"):
        route(np.array([0, 1, 5], np.int64), table)
    bad = table.copy()
    bad[2, 1] = 8
    with raises("invalid_argument", r"^invalid_argument: hash_table\[2\]\[1\]: expected an expert id in \[0, 8\), got 8$"):
        route(tokens, bad)
    bad = table.copy()
    bad[1, 0] = -1
    with raises("invalid_argument", r"^invalid_argument: hash_table\[1\]\[0\]: expected an expert id in \[0, 8\), got -1$"):
        route(tokens, bad)
    with raises("shape_mismatch",
                r"^shape_mismatch: hash_table: expected shape \[vocab >= 1, 2\] \(top_k\), got shape \[5, 3\]$"):
        route(tokens, np.zeros((5, 3), np.int32))
    with raises("dtype_mismatch", r"^dtype_mismatch: hash_table: expected int32 or int64, got float32$"):
        route(tokens, table.astype(np.float32))
    with raises("invalid_argument", r"^invalid_argument: hash routing: expected both token_ids and hash_table, "
                                    r"or neither, got hash_table without token_ids$"):
        route(None, table)
    assert (weights == 7.0).all() and (ids == -7).all() and (counts == -7).all()
    # A bad row no token uses is not read, so the call is valid.
    bad = table.copy()
    bad[4] = [99, -5]
    route(tokens, bad)
    assert (ids == table[tokens]).all()


def _misaligned(a):
    """A copy of a whose data starts one byte past an aligned address."""
    buf = np.zeros(a.nbytes + a.itemsize, np.uint8)
    out = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def test_x_layout(mixtral):
    cfg, x, _, router = mixtral
    with raises("layout_unsupported", r"^layout_unsupported: x: expected 4-byte aligned data, got address \d+$"):
        router.route(_misaligned(x))
    wide = np.zeros((3, 2 * cfg.hidden), np.float32)
    with raises("layout_unsupported", r"^layout_unsupported: x: expected unit inner stride and row stride >= hidden, "
                                      r"got strides \[8192, 2\]$"):
        router.route(wide[:, ::2])
    overlapping = np.lib.stride_tricks.as_strided(x, shape=x.shape, strides=(4 * (cfg.hidden - 1), 4))
    with raises("layout_unsupported", r"^layout_unsupported: x: expected unit inner stride and row stride >= hidden, "
                                      r"got strides \[4095, 1\]$"):
        router.route(overlapping)
    # Rows further apart than H are fine (a view of every other row).
    assert router.route(np.concatenate([x, x], axis=1)[:, :cfg.hidden]).ids.tolist() == router.route(x).ids.tolist()


@pytest.mark.parametrize("spoil, code, pattern", [
    (dict(weights_out=np.zeros(6, np.float32)), "shape_mismatch",
     r"^shape_mismatch: weights_out: expected 2 dims \[3, 2\], got 1 dims \[6\]$"),
    (dict(ids_out=np.zeros((3, 3), np.int32)), "shape_mismatch",
     r"^shape_mismatch: ids_out: expected shape \[3, 2\], got shape \[3, 3\]$"),
    (dict(counts_out=np.zeros((2, 4), np.int64)), "shape_mismatch",
     r"^shape_mismatch: counts_out: expected 1 dims \[8\], got 2 dims \[2, 4\]$"),
    (dict(ids_out=np.zeros((3, 2), np.int64)), "dtype_mismatch",
     r"^dtype_mismatch: ids_out: expected int32, got int64$"),
    (dict(weights_out=np.zeros((3, 2), np.int32)), "dtype_mismatch",
     r"^dtype_mismatch: weights_out: expected float32, got int32$"),
    (dict(counts_out=np.zeros(8, np.float32)), "dtype_mismatch",
     r"^dtype_mismatch: counts_out: expected int32 or int64, got float32$"),
    (dict(expert_offsets_out=np.zeros(9, np.float32)), "dtype_mismatch",
     r"^dtype_mismatch: expert_offsets_out: expected int32 or int64, got float32$"),
    (dict(logits_out=np.zeros((3, 8), np.int32)), "dtype_mismatch",
     r"^dtype_mismatch: logits_out: expected float32, got int32$"),
    (dict(weights_out=np.zeros((3, 4), np.float32)[:, ::2]), "layout_unsupported",
     r"^layout_unsupported: weights_out: expected contiguous C-order strides, got strides \[4, 2\]$"),
    (dict(ids_out=np.zeros((2, 3), np.int32).T), "layout_unsupported",
     r"^layout_unsupported: ids_out: expected contiguous C-order strides, got strides \[1, 3\]$"),
    (dict(counts_out=np.zeros(16, np.int64)[::2]), "layout_unsupported",
     r"^layout_unsupported: counts_out: expected contiguous C-order strides, got strides \[2\]$"),
    (dict(logits_out=np.zeros((8, 3), np.float32).T), "layout_unsupported",
     r"^layout_unsupported: logits_out: expected contiguous C-order strides, got strides \[1, 3\]$"),
    (dict(weights_out=_misaligned(np.zeros((3, 2), np.float32))), "layout_unsupported",
     r"^layout_unsupported: weights_out: expected 4-byte aligned data, got address \d+$"),
], ids=["weights rank 1", "ids shape", "counts rank 2", "ids int64", "weights int32", "counts float32",
        "offsets float32", "logits int32", "weights strided", "ids transposed", "counts strided",
        "logits transposed", "weights misaligned"])
def test_bad_outputs_are_refused_untouched(mixtral, spoil, code, pattern):
    cfg, x, _, router = mixtral
    weights, ids, counts = _sentinel_outputs(cfg, 3)
    outs = dict(weights_out=weights, ids_out=ids, counts_out=counts)
    outs.update(spoil)
    before = {name: a.copy() for name, a in outs.items()}
    with raises(code, pattern):
        router._backend(("cpu", 0)).route_into(x, outs.pop("weights_out"), outs.pop("ids_out"), **outs)
    outs.update(weights_out=spoil.get("weights_out", weights), ids_out=spoil.get("ids_out", ids))
    for name, a in outs.items():
        assert np.array_equal(a, before[name]), name
