"""moerouter.check(): other people's router outputs judged against the float64 oracle."""
import numpy as np
import pytest

import moerouter
from inputs import make_inputs


@pytest.fixture
def routed(small_problem):
    cfg, x, weight, bias = small_problem
    weights, ids = moerouter.Router(cfg, weight, bias).route(x)
    return cfg, x, weight, bias, weights, ids


def test_correct_outputs_pass(routed):
    cfg, x, weight, bias, weights, ids = routed
    report = moerouter.check(cfg, x, weight, weights, ids, bias=bias)
    assert report.ok, report
    assert (report.rows, report.judged, report.mismatch, report.weight_errors) == (48, 48, 0, 0)
    assert report.exact + report.near_tie == 48
    assert 0 <= report.max_weight_ulp < 64
    assert "48 of 48 rows" in report.summary() and "ok=True" in repr(report)


def test_planted_wrong_id_is_caught_and_explained(routed):
    cfg, x, weight, bias, weights, ids = routed
    theirs = ids.copy()
    row = 13
    # Swap the best expert for one the oracle ranks last in that row: a real bug, not a near tie.
    unchosen = [e for e in range(cfg.experts) if e not in theirs[row]]
    theirs[row, 0] = unchosen[-1]
    report = moerouter.check(cfg, x, weight, weights, theirs, bias=bias)
    assert not report.ok
    assert report.mismatch == 1
    d = report.disagreements[0]
    assert (d.row, d.verdict) == (row, "mismatch")
    assert d.expected == ids[row].tolist() and d.got == theirs[row].tolist()
    assert "row 13" in d.explain and str(d) == d.explain
    assert "row 13" in str(report)


def test_wrong_weights_are_weight_errors(routed):
    cfg, x, weight, bias, weights, ids = routed
    report = moerouter.check(cfg, x, weight, weights * np.float32(1.01), ids, bias=bias)
    assert not report.ok and report.mismatch == 0 and report.weight_errors == 48
    assert report.disagreements[0].weight_error
    # Weights can also be left out: ids only.
    assert moerouter.check(cfg, x, weight, None, ids, bias=bias).ok


def test_unordered_ids(routed):
    cfg, x, weight, bias, weights, ids = routed
    shuffled_ids, shuffled_weights = ids[:, ::-1].copy(), weights[:, ::-1].copy()
    assert not moerouter.check(cfg, x, weight, shuffled_weights, shuffled_ids, bias=bias).ok
    report = moerouter.check(cfg, x, weight, shuffled_weights, shuffled_ids, bias=bias, unordered=True)
    assert report.ok, report
    assert not report.ordered


def test_int64_ids_and_sampling(routed):
    cfg, x, weight, bias, weights, ids = routed
    report = moerouter.check(cfg, x, weight, weights, ids.astype(np.int64), bias=bias, sample=8)
    assert report.ok and report.judged == 8 and report.rows == 48


def test_bad_arguments_name_them(routed):
    cfg, x, weight, bias, weights, ids = routed
    with pytest.raises(moerouter.Error, match=r"their_ids: expected \[48, 4\]") as e:
        moerouter.check(cfg, x, weight, weights, ids[:40], bias=bias)
    assert e.value.code == "shape_mismatch"
    with pytest.raises(moerouter.Error, match=r"their_weights: expected float32, got int32"):
        moerouter.check(cfg, x, weight, ids, ids, bias=bias)
    with pytest.raises(moerouter.Error, match=r"x"):
        moerouter.check(cfg, x[:, :10], weight, weights, ids, bias=bias)


def test_preset_name_and_hash_routing():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 6, seed=40)
    table = np.array([[0, 1], [2, 3], [7, 6]], np.int32)
    token_ids = np.array([0, 1, 2, 2, 1, 0], np.int32)
    weights, ids = moerouter.Router(cfg, weight).route(x, token_ids=token_ids, hash_table=table)
    report = moerouter.check("mixtral", x, weight, weights, ids, token_ids=token_ids, hash_table=table)
    assert report.ok, report
