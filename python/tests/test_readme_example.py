"""The Python examples of the README, executed as written (keep them in sync with README.md)."""
import pytest

NUMPY_EXAMPLE = '''
import numpy as np
import moerouter

cfg = moerouter.preset("dsv4-flash")   # H=4096, E=256, k=6, sqrt(softplus), scale 1.5
rng = np.random.default_rng(0)
gate_weight = (rng.standard_normal((cfg.experts, cfg.hidden)) / 64).astype(np.float32)
x = rng.standard_normal((8, cfg.hidden), dtype=np.float32)

router = moerouter.Router("dsv4-flash", gate_weight)    # device="auto": routes where x lives
weights, ids = router.route(x)                          # [8, 6] float32, [8, 6] int32 (numpy)
result = router.route(x, counts=True)                   # also result.counts: tokens per expert
print(ids[0], weights[0], result.counts.sum())

# Judge any router's output (yours too) against the float64 oracle:
report = moerouter.check("dsv4-flash", x, gate_weight, weights, ids)
assert report.ok, report
print(report.summary())

try:
    router.route(x[:, :100])
except moerouter.Error as e:
    print(e.code, e)                                    # shape_mismatch x: expected shape ...
'''

TORCH_EXAMPLE = '''
import torch
import moerouter

gate = torch.nn.Linear(4096, 256, bias=False)          # a DSV4-flash gate
router = moerouter.Router("dsv4-flash", gate.weight)
x = torch.randn(16, 4096, dtype=torch.bfloat16)          # on a GPU: .cuda(), same call
weights, ids = router.route(x)                          # torch tensors, on x's device
assert ids.shape == (16, 6) and ids.dtype == torch.int32
'''

LAYOUT_EXAMPLE = '''
import numpy as np
import moerouter

cfg = moerouter.preset("mixtral")                       # E=8, k=2
rng = np.random.default_rng(0)
gate_weight = (rng.standard_normal((cfg.experts, cfg.hidden)) / 64).astype(np.float32)
x = rng.standard_normal((32, cfg.hidden), dtype=np.float32)

router = moerouter.Router("mixtral", gate_weight)
result = router.route(x, layout=True)                   # torch/cupy: same call, on x's device
counts, offsets, slots = result.layout                  # int64 [E], [E+1], [N*k]
assert offsets[-1] == slots.size == x.shape[0] * cfg.top_k
for e in range(cfg.experts):                            # what a grouped expert GEMM consumes
    s = slots[offsets[e]:offsets[e + 1]]                # slots token*k + rank, ascending
    tokens = s // cfg.top_k                             # the rows of x routed to expert e
    gate = result.weights.ravel()[s]                    # and their routing weights
    assert (result.ids.ravel()[s] == e).all() and tokens.size == counts[e]
'''


def test_numpy_example(capsys):
    exec(compile(NUMPY_EXAMPLE, "README:python-numpy", "exec"), {})
    assert "shape_mismatch" in capsys.readouterr().out


def test_torch_example():
    pytest.importorskip("torch")
    exec(compile(TORCH_EXAMPLE, "README:python-torch", "exec"), {})


def test_layout_example():
    exec(compile(LAYOUT_EXAMPLE, "README:python-layout", "exec"), {})
