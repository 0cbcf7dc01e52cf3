"""CUDA tensors from torch: routed on their device, on the caller's current stream, bit-equal
to the CPU backend in canonical mode. Skipped (visibly) on machines without a CUDA device."""
import pytest

import moerouter
from inputs import make_inputs

# Module-level skips: pytest then collects nothing and exits 5, which tests/python.cmake reports
# to ctest as a skipped test (visible there too, not a silent pass).
torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)
if not moerouter.device_available("cuda"):
    pytest.skip("moerouter built without the CUDA backend", allow_module_level=True)


@pytest.fixture
def problem():
    cfg = moerouter.preset("dsv3")
    x, weight, bias = make_inputs(cfg, 300, seed=60, bias=True)
    return cfg, torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias)


def test_cuda_matches_cpu_bit_for_bit(problem):
    cfg, x, weight, bias = problem
    router = moerouter.Router(cfg, weight.cuda(), bias.cuda())
    gpu = router.route(x.cuda(), counts=True, logits=True)
    assert gpu.weights.device == x.cuda().device and gpu.stats.device == "cuda"
    cpu = moerouter.Router(cfg, weight, bias, device="cpu").route(x, counts=True, logits=True)
    torch.cuda.synchronize()
    for g, c in zip((*gpu, gpu.counts, gpu.logits), (*cpu, cpu.counts, cpu.logits)):
        assert torch.equal(g.cpu(), c)


def test_auto_routes_where_the_input_lives(problem):
    cfg, x, weight, bias = problem
    router = moerouter.Router(cfg, weight, bias)  # host weights
    on_gpu = router.route(x.cuda())
    on_cpu = router.route(x)
    torch.cuda.synchronize()
    assert router.backends == [("cpu", 0), ("cuda", torch.cuda.current_device())]
    assert torch.equal(on_gpu.ids.cpu(), on_cpu.ids)


def test_runs_on_the_callers_current_stream(problem):
    cfg, x, weight, bias = problem
    router = moerouter.Router(cfg, weight.cuda(), bias.cuda())
    expected = router.route(x.cuda())
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        xs = x.cuda() * 1.0  # produced on `stream`: the router must be ordered after it
        got = router.route(xs)
        ids_again = got.ids.clone()  # ordered after the router on the same stream
    stream.synchronize()
    assert torch.equal(ids_again, expected.ids.to(ids_again.device))


def test_bf16_cuda_tensor(problem):
    cfg, x, weight, bias = problem
    router = moerouter.Router(cfg, weight.cuda(), bias.cuda())
    a = router.route(x.cuda().bfloat16())
    b = router.route(x.bfloat16().float().cuda())
    torch.cuda.synchronize()
    assert torch.equal(a.weights, b.weights) and torch.equal(a.ids, b.ids)


def test_check_accepts_cuda_tensors(problem):
    cfg, x, weight, bias = problem
    router = moerouter.Router(cfg, weight.cuda(), bias.cuda())
    weights, ids = router.route(x[:16].cuda())
    assert moerouter.check(cfg, x[:16].cuda(), weight.cuda(), weights, ids, bias=bias.cuda()).ok


def test_sync_stats_counts_nonfinite_rows_like_the_cpu(problem):
    cfg, x, weight, bias = problem
    x = x.clone()
    x[200, 3] = float("nan")
    x[41, 0] = float("inf")
    router = moerouter.Router(cfg, weight.cuda(), bias.cuda())
    uncounted = router.route(x.cuda())
    assert uncounted.stats.nonfinite_rows == -1  # not counted without a synchronization
    counted = router.route(x.cuda(), sync_stats=True)
    cpu = moerouter.Router(cfg, weight, bias, device="cpu").route(x)
    assert (counted.stats.nonfinite_rows, counted.stats.first_nonfinite_row) == (2, 41)
    assert (cpu.stats.nonfinite_rows, cpu.stats.first_nonfinite_row) == (2, 41)
    assert torch.equal(counted.ids.cpu(), cpu.ids)
