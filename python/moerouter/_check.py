"""moerouter.check(): judge another router's outputs against the float64 oracle."""
from . import _arrays
from ._config import as_config
from ._moerouter import DEFAULT_MAX_WEIGHT_ULP, _check


def check(config, x, weight, their_weights, their_ids, bias=None, unordered=False, sample=None,
          token_ids=None, hash_table=None, max_weight_ulp=DEFAULT_MAX_WEIGHT_ULP, max_report=20):
    """Judges the routing results of someone else's router — `their_ids` [N, k] int32/int64 and
    `their_weights` [N, k] float32 (or None: ids only) — against moerouter's float64 oracle on
    the same inputs (x [N, H], weight [E, H], bias [E], hash routing), with the near-tie-aware
    rules of `moerouter check`: ids that differ only where two experts' scores are within what
    FP32 rounding allows count as near ties, not mismatches.

    config     a preset name or a moerouter.Config
    unordered  compare ids as sets (for kernels that do not rank their top-k)
    sample     judge only this many rows, spread evenly (the oracle is slow: ~10 ms per dsv4 row)
    max_weight_ulp  a row with right ids whose weights are further than this from the oracle's
               (in float ulp) is a weight error; negative: weights reported, never judged

    Returns a CheckReport: rows, judged, exact, near_tie, mismatch, weight_errors, nonfinite,
    max_weight_ulp, disagreements (each with row, verdict, expected, got, gap, band,
    max_weight_ulp, explain), `ok` (no mismatch, no weight error). In a test:

        report = moerouter.check("dsv4-flash", x, w, weights, ids)
        assert report.ok, report

    Inputs may live on a CUDA device (torch, cupy): they are copied to the host first.
    """
    cfg = as_config(config)
    x, x_bits = _arrays.unwrap(x)
    weight, w_bits = _arrays.unwrap(weight)
    host = _arrays.on_host
    return _check(cfg, host(x, "x"), host(weight, "weight"), host(_arrays.detach(bias), "bias"),
                  host(_arrays.detach(token_ids), "token_ids"),
                  host(_arrays.detach(hash_table), "hash_table"),
                  host(_arrays.detach(their_ids), "their_ids"),
                  host(_arrays.detach(their_weights), "their_weights"),
                  ordered=not unordered, sample=0 if sample is None else int(sample),
                  max_weight_ulp=int(max_weight_ulp), max_report=int(max_report),
                  x_bf16_bits=x_bits, weight_bf16_bits=w_bits)
