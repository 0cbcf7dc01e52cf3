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
