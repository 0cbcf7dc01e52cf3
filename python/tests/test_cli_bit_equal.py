"""Python and the C++ CLI route the same inputs to the same bits (canonical mode). Needs the CLI,
which ctest passes in MOEROUTER_CLI when it was built (MOEROUTER_TOOLS=ON)."""
import os
import subprocess

import numpy as np
import pytest

import moerouter
from inputs import make_inputs

CLI = os.environ.get("MOEROUTER_CLI")
if not CLI:
    pytest.skip("moerouter CLI not built (MOEROUTER_TOOLS=OFF)", allow_module_level=True)


@pytest.mark.parametrize("name", ["dsv3", "dsv4-flash"])
def test_python_equals_cli(tmp_path, name):
    cfg = moerouter.preset(name)
    x, weight, bias = make_inputs(cfg, 33, seed=70, bias=True)
    for arr, f in ((x, "x"), (weight, "weight"), (bias, "bias")):
        np.save(tmp_path / f"{f}.npy", arr)
    out = {f: tmp_path / f"out_{f}.npy" for f in ("ids", "weights", "logits")}
    subprocess.run([CLI, "route", "--preset", name, "--x", tmp_path / "x.npy",
                    "--weight", tmp_path / "weight.npy", "--bias", tmp_path / "bias.npy",
                    "--device", "cpu", "--out-ids", out["ids"], "--out-weights", out["weights"],
                    "--out-logits", out["logits"], "--out-layout", tmp_path / "layout"],
                   check=True, capture_output=True)
    ours = moerouter.Router(name, weight, bias, device="cpu").route(x, logits=True, layout=True)
    assert np.load(out["ids"]).tobytes() == ours.ids.tobytes()
    assert np.load(out["weights"]).tobytes() == ours.weights.tobytes()
    assert np.load(out["logits"]).tobytes() == ours.logits.tobytes()
    for field in ours.layout._fields:  # counts, expert_offsets, token_slots
        written = np.load(tmp_path / "layout" / f"{field}.npy")
        assert written.tobytes() == getattr(ours.layout, field).tobytes()
