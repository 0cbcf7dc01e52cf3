"""moerouter.Router: the C++ routers behind a Python object that routes tensors where they live.

One Router holds one (config, weights) pair and, lazily, one C++ router per device it has been
asked to route on: a numpy array routes on the CPU backend, a torch CUDA tensor on the CUDA
backend of its device, on the caller's current stream. Outputs are allocated by the input's own
library on the input's device (zero-copy: the C++ core writes straight into them).
"""
import collections
import contextlib
import threading

from . import _arrays
from ._arrays import CPU, CUDA
from ._config import as_config
from ._errors import error
from ._moerouter import _Router

_DEVICES = ("auto", CPU, CUDA)


class DispatchLayout(collections.namedtuple("DispatchLayout",
                                            ("counts", "expert_offsets", "token_slots"))):
    """The dispatch layout a grouped expert GEMM consumes, from route(layout=True); all int64,
    on the input's device, allocated by the input's library:

    counts          [E]      tokens routed to each expert
    expert_offsets  [E + 1]  offsets[e] = slots routed to experts < e; offsets[0] = 0,
                             offsets[E] = N * k, diff(offsets) = counts
    token_slots     [N * k]  the slots (token * k + rank, i.e. indices into ids.ravel()) grouped
                             by expert, experts ascending, slots ascending within an expert:
                             token_slots[offsets[e]:offsets[e + 1]] are the slots routed to
                             expert e, and token_slots // k their tokens.
    """

    __slots__ = ()


class RouteResult(tuple):
    """What Router.route() returns: the pair (weights, ids) — so `weights, ids = router.route(x)`
    works — with every output also an attribute:

    weights  [N, k] float32, rank order (best first)
    ids      [N, k] int32
    counts   [E] int64 tokens per expert when route(counts=True), else None
    logits   [N, E] float32, the backend's own logits, when route(logits=True), else None
    layout   DispatchLayout (counts, expert_offsets, token_slots) when route(layout=True), else None
    stats    RouteStats: rows, nonfinite_rows, first_nonfinite_row, device, gemm, kernel
    """

    def __new__(cls, weights, ids, counts=None, logits=None, stats=None, layout=None):
        self = super().__new__(cls, (weights, ids))
        self.counts = counts
        self.logits = logits
        self.layout = layout
        self.stats = stats
        return self

    @property
    def weights(self):
        return self[0]

    @property
    def ids(self):
        return self[1]


class Router:
    """A router for one config and one set of gate weights.

    Router(config, weight, bias=None, device="auto", gemm=None)

    config  a preset name ("dsv4-flash", see moerouter.presets()) or a moerouter.Config
    weight  [E, H] float32 or bfloat16, any DLPack producer or buffer (torch, numpy, cupy);
            numpy bf16 as moerouter.bf16_bits(uint16 array). Copied/packed once, here.
    bias    [E] float32 or None (selection-only bias, e.g. DeepSeek-V3's e_score_correction_bias)
    device  "auto": route each input on the device it lives on (CPU backend for host memory,
            CUDA backend for CUDA memory); "cpu" / "cuda": only there, anything else is an error
    gemm    overrides config.gemm: "canonical" (default: bit-identical across backends and
            thread counts), "fp32" or "bf16"
    """

    def __init__(self, config, weight, bias=None, device="auto", gemm=None):
        config = as_config(config)
        if gemm is not None:
            config = config.replace(gemm=gemm)
        if device not in _DEVICES:
            raise error("invalid_argument", f"device: expected 'auto', 'cpu' or 'cuda', got {device!r}")
        self._config = config
        self._device = device
        self._lock = threading.Lock()
        self._backends = {}
        self.set_weights(weight, bias)

    @property
    def config(self):
        return self._config

    @property
    def device(self):
        """The device argument: "auto", "cpu" or "cuda"."""
        return self._device

    @property
    def backends(self):
        """The C++ routers made so far, as [("cpu", 0), ("cuda", 0), ...]."""
        with self._lock:
            return sorted(self._backends)

    def set_weights(self, weight, bias=None):
        """Replaces the gate weights (same shapes). The router for the weights' own device (or the
        pinned device) is rebuilt now, so bad weights raise here; others are rebuilt on use."""
        w, w_bits = _arrays.unwrap(weight)
        if isinstance(bias, _arrays.bf16_bits):
            raise error("dtype_mismatch", "bias: expected float32, got bf16_bits")
        b = _arrays.detach(bias)
        kind, index = _arrays.device_of(w, "weight")
        if self._device == CPU:
            home = (CPU, 0)
        elif self._device == CUDA:
            home = (CUDA, index if kind == CUDA else _arrays.current_cuda_index())
        else:
            home = (kind, index)
        backend = self._make(home, w, w_bits, b)  # raises before any state changes
        with self._lock:
            self._weight, self._weight_bits, self._bias = w, w_bits, b
            self._backends = {home: backend}

    def supports(self, gemm, device=None):
        """Whether route(gemm=...) can run on `device` ("cpu"/"cuda"; default: this Router's
        first backend)."""
        with self._lock:
            backends = dict(self._backends)
        for (kind, _), backend in sorted(backends.items()):
            if device is None or kind == device:
                return backend.supports(gemm)
        return False

    def route(self, x, token_ids=None, hash_table=None, gemm=None, counts=False, logits=False,
              layout=False, validate=False, sync_stats=False, threads=0, stream=None):
        """Routes x [N, H] (float32 or bfloat16; rows may be strided, elements must be
        contiguous) and returns a RouteResult: (weights [N, k] float32, ids [N, k] int32), on x's
        device, allocated by x's library.

        token_ids [N], hash_table [vocab, k]  hash routing (int32/int64, both or neither)
        gemm      overrides the Router's gemm mode for this call
        counts    also return tokens per expert, [E] int64 (result.counts)
        logits    also return the backend's own logits, [N, E] float32 (result.logits)
        layout    also return the dispatch layout for a grouped expert GEMM (result.layout, a
                  DispatchLayout of int64 counts [E], expert_offsets [E+1], token_slots [N*k]);
                  its counts are the same array as result.counts when counts=True too
        validate  NaN/inf logits raise Error('non_finite_input') naming the first bad row
        sync_stats  CUDA tensors: count NaN/inf rows (result.stats.nonfinite_rows) and synchronize
                  the stream; without it they read -1 there (the CPU always counts)
        threads   CPU threads for this call (0: OpenMP's default)
        stream    CUDA stream handle (int) to run on; default: the caller's current stream
                  (torch.cuda.current_stream() for torch tensors). CUDA calls are asynchronous.
        """
        x, x_bits = _arrays.unwrap(x)
        kind, index = _arrays.device_of(x, "x")
        if self._device != "auto" and kind != self._device:
            raise error("device_mismatch",
                        f"x: expected a tensor in {self._device} memory (this Router was made with "
                        f"device={self._device!r}), got one in {kind} memory")
        backend = self._backend((kind, index))
        shape = _arrays.shape_of(x, "x")
        n = shape[0] if shape else 0  # a wrong rank is reported by the C++ checks
        k, experts = self._config.top_k, self._config.experts
        run_stream, dlpack_stream = _arrays.streams_for(x, kind, index, stream)
        alloc = _arrays.allocator_for(x, kind, index)
        weights = alloc((n, k), "float32")
        ids = alloc((n, k), "int32")
        # The layout's counts are the counts: one array, filled once, when both are asked for.
        counts_out = alloc((experts,), "int64") if counts or layout else None
        logits_out = alloc((n, experts), "float32") if logits else None
        offsets_out = alloc((experts + 1,), "int64") if layout else None
        slots_out = alloc((n * k,), "int64") if layout else None
        stats = backend.route_into(
            x, weights, ids, counts_out=counts_out, logits_out=logits_out,
            expert_offsets_out=offsets_out, token_slots_out=slots_out,
            token_ids=_arrays.detach(token_ids), hash_table=_arrays.detach(hash_table), gemm=gemm,
            validate=validate, sync_stats=sync_stats, threads=threads, stream=run_stream, dlpack_stream=dlpack_stream,
            x_bf16_bits=x_bits)
        dispatch = DispatchLayout(counts_out, offsets_out, slots_out) if layout else None
        return RouteResult(weights, ids, counts_out if counts else None, logits_out, stats,
                           dispatch)

    __call__ = route

    def __repr__(self):
        return (f"moerouter.Router({self._config!r}, device={self._device!r}, "
                f"backends={self.backends})")

    # --- the C++ routers, one per device -------------------------------------------------------

    def _backend(self, key):
        with self._lock:
            backend = self._backends.get(key)
            if backend is None:
                backend = self._make(key, self._weight, self._weight_bits, self._bias)
                self._backends[key] = backend
            return backend

    def _make(self, key, weight, weight_bits, bias):
        kind, index = key
        context = _arrays.cuda_device(index) if kind == CUDA else contextlib.nullcontext()
        with context:
            backend = _Router(self._config, kind)
        if kind == CUDA and backend.device_id != index:
            raise error("internal", f"device: asked for CUDA device {index}, the router was made "
                                    f"on device {backend.device_id}")
        # The CPU backend reads host memory; the CUDA one host memory or its own device's.
        weight = self._reachable(weight, key, "weight")
        bias = self._reachable(bias, key, "bias")
        backend.set_weights(weight, bias, weight_bf16_bits=weight_bits)
        return backend

    @staticmethod
    def _reachable(obj, key, name):
        if obj is None:
            return None
        where = _arrays.device_of(obj, name)
        if where[0] == CUDA and where != key:
            return _arrays.to_host(obj, name)
        return obj
