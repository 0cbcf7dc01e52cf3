"""moerouter: the Mixture-of-Experts router ("gate") of DeepSeek-style and other MoE models, on
CPUs and CUDA GPUs, with a CPU backend that is a bit-comparable golden reference.

    import moerouter
    router = moerouter.Router("dsv4-flash", gate_weight)   # torch, numpy or cupy [E, H]
    weights, ids = router.route(x)                          # [N, k] float32, [N, k] int32

Tensors cross in and out through DLPack without copies; outputs live on the input's device and
come back as the input's own type. Errors raise moerouter.Error, whose `.code` names the cause.
"""
from ._moerouter import (
    CANONICAL_CHUNK,
    CONTRACT_VERSION,
    DEFAULT_MAX_WEIGHT_ULP,
    ERROR_CODES,
    MAX_EXPERTS,
    MAX_TOP_K,
    CheckReport,
    Config,
    Disagreement,
    Error,
    RouteStats,
    __version__,
    device_available,
    preset,
    presets,
)
from ._arrays import bf16_bits
from ._check import check
from ._checkpoint import RouterLayer, load_router_layer, router_layers
from ._router import DispatchLayout, RouteResult, Router

# Public classes present themselves as moerouter.X (tracebacks, reprs, pickles), not as members of
# the private extension module they are defined in.
for _cls in (CheckReport, Config, Disagreement, Error, RouteStats):
    _cls.__module__ = __name__
del _cls

__all__ = [
    "CANONICAL_CHUNK", "CONTRACT_VERSION", "DEFAULT_MAX_WEIGHT_ULP", "ERROR_CODES", "MAX_EXPERTS",
    "MAX_TOP_K", "CheckReport", "Config", "Disagreement", "DispatchLayout", "Error", "RouteResult",
    "RouteStats", "Router", "RouterLayer", "bf16_bits", "check", "device_available",
    "load_router_layer", "preset", "presets", "router_layers",
]
