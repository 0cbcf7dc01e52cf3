"""cupy arrays: routed on their device, on cupy's current stream, outputs as cupy arrays."""
import numpy as np
import pytest

import moerouter
from inputs import make_inputs

cupy = pytest.importorskip("cupy")
try:
    _devices = cupy.cuda.runtime.getDeviceCount()
except cupy.cuda.runtime.CUDARuntimeError:
    _devices = 0
# Module-level skips, as in test_cuda.py: ctest shows the file as skipped.
if _devices == 0:
    pytest.skip("no CUDA device", allow_module_level=True)
if not moerouter.device_available("cuda"):
    pytest.skip("moerouter built without the CUDA backend", allow_module_level=True)


def test_cupy_in_cupy_out_bit_equal_to_cpu():
    cfg = moerouter.preset("dsv4-flash")
    x, weight, _ = make_inputs(cfg, 64, seed=80)
    router = moerouter.Router(cfg, cupy.asarray(weight))
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        result = router.route(cupy.asarray(x), counts=True)
        ids = result.ids.get(stream=stream)
    stream.synchronize()
    assert isinstance(result.weights, cupy.ndarray) and result.weights.dtype == np.float32
    cpu = moerouter.Router(cfg, weight, device="cpu").route(x, counts=True)
    assert ids.tobytes() == cpu.ids.tobytes()
    assert result.weights.get().tobytes() == cpu.weights.tobytes()
    assert np.array_equal(result.counts.get(), cpu.counts)
