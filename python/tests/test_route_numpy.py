"""Routing numpy inputs: every preset against an independent float64 numpy router, the canonical
mode's bit-for-bit guarantees, hash routing, counts and logits."""
import numpy as np
import pytest

import moerouter
import np_reference
from inputs import make_inputs


@pytest.mark.parametrize("name", moerouter.presets())
def test_preset_matches_float64_reference(name):
    cfg = moerouter.preset(name)
    with_bias = cfg.score != "softmax"  # DeepSeek's correction bias; softmax models have none
    x, weight, bias = make_inputs(cfg, 64, seed=1, bias=with_bias)
    weights, ids = moerouter.Router(name, weight, bias).route(x)
    assert isinstance(weights, np.ndarray) and isinstance(ids, np.ndarray)
    assert (weights.shape, weights.dtype, ids.shape, ids.dtype) == (
        (64, cfg.top_k), np.float32, (64, cfg.top_k), np.int32)

    ref = np_reference.route(cfg, x, weight, bias)
    clear = np_reference.clear_rows(ref)
    # Near ties are rare in random data, so most rows are judged (softmax over 128 experts has
    # the smallest scores, ~1/E, and so the most rows inside the absolute 1e-4 band).
    assert clear.mean() >= 0.8
    np.testing.assert_array_equal(ids[clear], ref["ids"][clear])
    np.testing.assert_allclose(weights[clear], ref["weights"][clear], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("gemm", ["fp32", "bf16"])
def test_other_gemm_modes(gemm):
    cfg = moerouter.preset("dsv4-flash").replace(gemm=gemm)
    x, weight, _ = make_inputs(cfg, 32, seed=2)
    # bf16 mode rounds x and W to bf16 first; bf16-representable inputs make that exact, so both
    # modes must agree with the float64 router up to FP32 rounding.
    x, _ = np_reference.round_to_bf16(x)
    weight, _ = np_reference.round_to_bf16(weight)
    router = moerouter.Router(cfg, weight)
    if not router.supports(gemm):
        pytest.skip(f"the CPU backend has no {gemm} mode")
    weights, ids = router.route(x)
    assert router.route(x).stats.gemm == gemm
    ref = np_reference.route(cfg, x, weight)
    clear = np_reference.clear_rows(ref)
    np.testing.assert_array_equal(ids[clear], ref["ids"][clear])
    np.testing.assert_allclose(weights[clear], ref["weights"][clear], rtol=2e-5, atol=1e-6)


def test_canonical_is_bit_identical_across_threads_calls_and_batches():
    cfg = moerouter.preset("dsv3")
    x, weight, bias = make_inputs(cfg, 40, seed=3, bias=True)
    router = moerouter.Router(cfg, weight, bias)
    first = router.route(x, threads=1, logits=True)
    for threads in (0, 1, 2, 3):
        again = router.route(x, threads=threads, logits=True)
        for a, b in zip((first.weights, first.ids, first.logits), (again.weights, again.ids, again.logits)):
            assert a.tobytes() == b.tobytes()
    # Batch invariance: a row routes to the same bits alone as inside the batch.
    for row in (0, 17, 39):
        alone = router.route(x[row:row + 1])
        assert alone.weights.tobytes() == first.weights[row:row + 1].tobytes()
        assert alone.ids.tobytes() == first.ids[row:row + 1].tobytes()
    # A second Router built from the same weights agrees too.
    other = moerouter.Router(cfg, weight.copy(), bias.copy(), device="cpu").route(x, threads=2)
    assert other.weights.tobytes() == first.weights.tobytes()


def test_route_gemm_override_per_call():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 8, seed=4)
    router = moerouter.Router(cfg, weight, gemm="fp32")
    assert router.config.gemm == "fp32"
    assert router.route(x).stats.gemm == "fp32"
    assert router.route(x, gemm="canonical").stats.gemm == "canonical"


def test_counts_and_logits():
    cfg = moerouter.preset("qwen3-moe")
    x, weight, _ = make_inputs(cfg, 50, seed=5)
    result = moerouter.Router(cfg, weight).route(x, counts=True, logits=True)
    assert result.counts.dtype == np.int64 and result.counts.shape == (cfg.experts,)
    np.testing.assert_array_equal(result.counts, np.bincount(result.ids.ravel(), minlength=cfg.experts))
    assert result.logits.shape == (50, cfg.experts) and result.logits.dtype == np.float32
    np.testing.assert_allclose(result.logits, x.astype(np.float64) @ weight.astype(np.float64).T,
                               rtol=1e-4, atol=1e-5)
    plain = moerouter.Router(cfg, weight).route(x)
    assert plain.counts is None and plain.logits is None
    assert result.stats.rows == 50 and result.stats.nonfinite_rows == 0
    x[7, 2] = np.nan  # the CPU always counts; sync_stats is accepted and changes nothing there
    counted = moerouter.Router(cfg, weight).route(x, sync_stats=True)
    assert (counted.stats.nonfinite_rows, counted.stats.first_nonfinite_row) == (1, 7)


def test_hash_routing():
    cfg = moerouter.preset("dsv4-flash")
    x, weight, _ = make_inputs(cfg, 16, seed=6)
    rng = np.random.default_rng(6)
    vocab = 100
    table = np.stack([rng.permutation(cfg.experts)[:cfg.top_k] for _ in range(vocab)]).astype(np.int32)
    token_ids = rng.integers(0, vocab, size=16).astype(np.int64)
    weights, ids = moerouter.Router(cfg, weight).route(x, token_ids=token_ids, hash_table=table)
    np.testing.assert_array_equal(ids, table[token_ids])
    ref = np_reference.route(cfg, x, weight, token_ids=token_ids, hash_table=table)
    np.testing.assert_allclose(weights, ref["weights"], rtol=2e-5, atol=1e-6)


def test_empty_batch():
    cfg = moerouter.preset("mixtral")
    _, weight, _ = make_inputs(cfg, 1, seed=7)
    weights, ids = moerouter.Router(cfg, weight).route(np.zeros((0, cfg.hidden), np.float32))
    assert weights.shape == (0, 2) and ids.shape == (0, 2)


def test_bf16_bits_from_numpy_equal_their_float32_values():
    cfg = moerouter.preset("dsv4-flash")
    x, weight, _ = make_inputs(cfg, 12, seed=8)
    x_values, x_bits = np_reference.round_to_bf16(x)
    w_values, w_bits = np_reference.round_to_bf16(weight)
    # Widening bf16 is exact and canonical mode works on exact values: identical bits.
    from_bits = moerouter.Router(cfg, moerouter.bf16_bits(w_bits)).route(moerouter.bf16_bits(x_bits))
    from_f32 = moerouter.Router(cfg, w_values).route(x_values)
    assert from_bits.weights.tobytes() == from_f32.weights.tobytes()
    assert from_bits.ids.tobytes() == from_f32.ids.tobytes()


def test_uint16_without_marker_is_refused():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 2, seed=9)
    with pytest.raises(moerouter.Error, match="bf16_bits") as e:
        moerouter.Router(cfg, weight).route(np_reference.round_to_bf16(x)[1])
    assert e.value.code == "dtype_mismatch"


def test_router_is_callable_and_reports_backends():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 3, seed=10)
    router = moerouter.Router("mixtral", weight)
    assert router.backends == [("cpu", 0)]
    assert router(x).ids.tobytes() == router.route(x).ids.tobytes()
    assert "hidden=4096" in repr(router) and "backends=[('cpu', 0)]" in repr(router)


def test_set_weights_replaces_them():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 20, seed=11)
    router = moerouter.Router(cfg, weight)
    before = router.route(x)
    router.set_weights(weight[::-1].copy())  # experts reversed
    after = router.route(x)
    ref = np_reference.route(cfg, x, weight[::-1])
    clear = np_reference.clear_rows(ref)
    np.testing.assert_array_equal(after.ids[clear], ref["ids"][clear])
    assert not np.array_equal(before.ids, after.ids)
