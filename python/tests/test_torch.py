"""torch tensors in and out (CPU here; CUDA in test_cuda.py), bf16, and a comparison with a
plain-PyTorch implementation of the DeepSeek-V4 router."""
import numpy as np
import pytest

import moerouter
from inputs import make_inputs

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_dsv4_router(x, weight, bias, top_k, scale):
    """DeepSeek-V4's scored router as a PyTorch user writes it: FP32 linear, sqrt(softplus),
    top-k on the (biased) scores, weights gathered from the unbiased scores, renormalized."""
    scores = F.softplus(F.linear(x.float(), weight.float())).sqrt()
    selection = scores + bias if bias is not None else scores
    ids = selection.topk(top_k, dim=-1).indices
    weights = scores.gather(1, ids)
    weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20) * scale
    return weights, ids, selection


def near_tie_rows(selection, top_k):
    """Rows whose k-th and (k+1)-th selection scores are within the practical band (DESIGN §2)."""
    top = selection.double().topk(top_k + 1, dim=-1).values
    gap = top[:, top_k - 1] - top[:, top_k]
    return (gap <= 1e-4 * top[:, top_k - 1].abs().clamp(min=1)).numpy()


@pytest.mark.parametrize("name, with_bias", [("dsv4-flash", False), ("dsv4-flash", True), ("dsv4-pro", True)])
def test_matches_plain_pytorch_dsv4_router(name, with_bias):
    cfg = moerouter.preset(name)
    torch.manual_seed(0)
    gate = torch.nn.Linear(cfg.hidden, cfg.experts, bias=False)
    torch.nn.init.normal_(gate.weight, std=cfg.hidden ** -0.5)
    bias = torch.randn(cfg.experts) * 0.1 if with_bias else None
    x = torch.randn(256, cfg.hidden)

    ours = moerouter.Router(name, gate.weight, bias).route(x)  # a Parameter: requires grad
    assert isinstance(ours.weights, torch.Tensor) and ours.ids.dtype == torch.int32
    with torch.no_grad():
        weights, ids, selection = torch_dsv4_router(x, gate.weight, bias, cfg.top_k, cfg.scale)
    tie = near_tie_rows(selection, cfg.top_k)
    assert tie.sum() <= 8
    same = (ours.ids.long() == ids).all(dim=1).numpy()
    assert same[~tie].all(), np.flatnonzero(~same & ~tie)
    torch.testing.assert_close(ours.weights[~tie], weights[~tie], rtol=2e-5, atol=1e-6)


def test_bf16_tensors():
    cfg = moerouter.preset("dsv4-flash")
    x, weight, _ = make_inputs(cfg, 16, seed=50)
    x_bf16 = torch.from_numpy(x).bfloat16()
    w_bf16 = torch.from_numpy(weight).bfloat16()
    # bf16 inputs are widened exactly; canonical mode must give the bits of their float32 values.
    from_bf16 = moerouter.Router(cfg, w_bf16).route(x_bf16)
    from_f32 = moerouter.Router(cfg, w_bf16.float()).route(x_bf16.float())
    assert torch.equal(from_bf16.weights, from_f32.weights) and torch.equal(from_bf16.ids, from_f32.ids)
    # ... and the same as numpy bf16 bits.
    bits = moerouter.bf16_bits(x_bf16.view(torch.int16).numpy().view(np.uint16))
    from_bits = moerouter.Router(cfg, w_bf16).route(bits)
    assert np.array_equal(from_bits.ids, from_bf16.ids.numpy())


def test_outputs_follow_the_input_library():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 4, seed=51)
    router = moerouter.Router(cfg, torch.from_numpy(weight))
    as_torch = router.route(torch.from_numpy(x), counts=True, logits=True)
    as_numpy = router.route(x, counts=True, logits=True)
    for t, n in zip((*as_torch, as_torch.counts, as_torch.logits), (*as_numpy, as_numpy.counts, as_numpy.logits)):
        assert isinstance(t, torch.Tensor) and isinstance(n, np.ndarray)
        assert t.numpy().tobytes() == n.tobytes()
    assert as_torch.counts.dtype == torch.int64


def test_torch_views_are_not_copied():
    cfg = moerouter.preset("mixtral")
    x, weight, _ = make_inputs(cfg, 8, seed=52)
    big = torch.zeros(8, cfg.hidden + 32)
    big[:, :cfg.hidden] = torch.from_numpy(x)
    view = big[:, :cfg.hidden]
    info = moerouter._moerouter._view_info(view)
    assert info["data"] == big.data_ptr() and info["strides"] == [cfg.hidden + 32, 1]
    router = moerouter.Router(cfg, weight)
    assert torch.equal(router.route(view).ids, router.route(view.contiguous()).ids)


def test_check_accepts_torch_topk_output():
    cfg = moerouter.Config(hidden=128, experts=64, top_k=6, score="sqrtsoftplus", scale=1.5)
    x, weight, _ = make_inputs(cfg, 32, seed=53)
    xt, wt = torch.from_numpy(x), torch.from_numpy(weight)
    weights, ids, _ = torch_dsv4_router(xt, wt, None, cfg.top_k, cfg.scale)  # ids int64
    report = moerouter.check(cfg, xt, wt, weights, ids)
    assert report.ok, report
