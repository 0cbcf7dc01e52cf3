"""Shared fixtures for the moerouter Python tests. Run them with the built package on the path:

    PYTHONPATH=<build>/python /usr/bin/python3 -m pytest python/tests

(ctest does this: tests/python.cmake.)"""
import pytest

import moerouter
from inputs import make_inputs


@pytest.fixture
def small_cfg():
    """Small and group-limited: every code path, fast enough for the float64 oracle."""
    return moerouter.Config(hidden=96, experts=32, top_k=4, score="sigmoid", groups=4,
                            topk_groups=2, scale=2.5)


@pytest.fixture
def small_problem(small_cfg):
    x, weight, bias = make_inputs(small_cfg, 48, seed=7, bias=True)
    return small_cfg, x, weight, bias
