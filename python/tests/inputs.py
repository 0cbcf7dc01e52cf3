"""Deterministic random router inputs for the tests."""
import numpy as np


def make_inputs(cfg, n, seed, bias=False, dtype=np.float32):
    """Random router inputs shaped like a trained model's: W ~ N(0, 1/H) so logits ~ N(0, 1),
    x ~ N(0, 1), bias ~ N(0, 0.1^2)."""
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((cfg.experts, cfg.hidden)) / np.sqrt(cfg.hidden)).astype(dtype)
    x = rng.standard_normal((n, cfg.hidden)).astype(dtype)
    b = (rng.standard_normal(cfg.experts) * 0.1).astype(np.float32) if bias else None
    return x, weight, b
