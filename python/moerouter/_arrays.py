"""Where a tensor lives, which stream it is used on, and how to allocate outputs beside it — for
torch, cupy, numpy and any other DLPack producer. torch and cupy are never imported here unless
the caller's process already imported them (their tensors cannot exist otherwise), so
`import moerouter` stays fast and works without either."""
import contextlib
import sys

from ._errors import error

CPU, CUDA = "cpu", "cuda"
# DLPack device types (dlpack.h) that moerouter can use.
_DL_CPU, _DL_CUDA, _DL_CUDA_HOST, _DL_CUDA_MANAGED = 1, 2, 3, 13


class bf16_bits:
    """Marks a uint16 array as raw bfloat16 bits: numpy has no bfloat16 dtype, so bf16 data held
    in numpy travels as uint16 (e.g. `a.view(np.uint16)` of an ml_dtypes array, or bits read from
    a checkpoint). Without this marker a uint16 array is refused, never guessed at. torch bfloat16
    tensors need no marker.

        router.route(moerouter.bf16_bits(x_u16))
    """

    __slots__ = ("bits",)

    def __init__(self, bits):
        self.bits = bits

    def __repr__(self):
        return f"moerouter.bf16_bits({self.bits!r})"


def _torch():
    return sys.modules.get("torch")


def _cupy():
    return sys.modules.get("cupy")


def is_torch(obj):
    torch = _torch()
    return torch is not None and isinstance(obj, torch.Tensor)


def is_cupy(obj):
    cupy = _cupy()
    return cupy is not None and isinstance(obj, cupy.ndarray)


def detach(obj):
    """torch refuses to export tensors that require grad (an nn.Linear weight) through DLPack;
    a detached tensor shares their memory, so this costs nothing."""
    if is_torch(obj) and obj.requires_grad:
        return obj.detach()
    return obj


def unwrap(obj):
    """(the array, whether it holds raw bf16 bits)."""
    if isinstance(obj, bf16_bits):
        return detach(obj.bits), True
    return detach(obj), False


def device_of(obj, name):
    """("cpu", 0) or ("cuda", index). Buffers and bare capsules count as CPU memory; the C++
    import checks the capsule's real device."""
    if hasattr(obj, "__dlpack_device__"):
        kind, index = obj.__dlpack_device__()
        kind = int(kind)
        if kind in (_DL_CUDA, _DL_CUDA_MANAGED):
            return CUDA, int(index)
        if kind in (_DL_CPU, _DL_CUDA_HOST):
            return CPU, 0
        raise error("device_mismatch",
                    f"{name}: expected a tensor in CPU or CUDA memory, got DLPack device type {kind}")
    return CPU, 0


def shape_of(obj, name):
    shape = getattr(obj, "shape", None)
    if shape is not None:
        return tuple(int(s) for s in shape)
    from ._moerouter import _view_info  # buffers without .shape, bare capsules
    return tuple(_view_info(obj, name=name)["shape"])


def to_host(obj, name):
    """A host copy of a CUDA tensor, for code that needs host memory (the CPU backend's weights,
    the float64 oracle). Only torch and cupy know how to copy their memory."""
    if is_torch(obj):
        return obj.detach().cpu()
    if is_cupy(obj):
        return obj.get()
    raise error("device_mismatch",
                f"{name}: expected host memory or a torch/cupy CUDA tensor moerouter can copy, "
                f"got CUDA memory held by {type(obj).__name__}")


def on_host(obj, name):
    """obj itself when it is in host memory, else a host copy (None stays None)."""
    if obj is None:
        return None
    return to_host(obj, name) if device_of(obj, name)[0] == CUDA else obj


@contextlib.contextmanager
def cuda_device(index):
    """Makes CUDA device `index` current: a CUDA router is created on the current device."""
    torch, cupy = _torch(), _cupy()
    if torch is None and cupy is None and index != 0:
        try:
            import torch
        except ImportError:
            torch = None
    if torch is not None and torch.cuda.is_available():
        with torch.cuda.device(index):
            yield
    elif cupy is not None:
        with cupy.cuda.Device(index):
            yield
    elif index == 0:
        yield  # the runtime's default device
    else:
        raise error("unsupported", f"device: selecting CUDA device {index} needs torch or cupy")


def current_cuda_index():
    torch = _torch()
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.current_device()
    cupy = _cupy()
    if cupy is not None:
        return cupy.cuda.Device().id
    return 0


def streams_for(x, kind, index, stream):
    """(stream the router runs on, the `stream` argument for __dlpack__) for a call on x.

    Default: the caller's current stream — torch's current stream for torch tensors, cupy's for
    cupy arrays, the legacy default stream otherwise — so the call is ordered after the work that
    produced x and before whatever the caller enqueues next, with no synchronisation. DLPack asks
    consumers to name their stream so producers can order pending work before it; torch is told -1
    ("no sync needed") when we run on its own current stream, because then the order already holds.
    """
    if kind != CUDA:
        return None, None
    if stream is None:
        if is_torch(x):
            torch = _torch()
            return torch.cuda.current_stream(x.device).cuda_stream, -1
        if is_cupy(x):
            cupy = _cupy()
            with cupy.cuda.Device(index):
                stream = cupy.cuda.get_current_stream().ptr
        else:
            stream = 0
    stream = int(stream)
    return stream, (stream if stream != 0 else 1)  # DLPack: 1 = the legacy default stream


def allocator_for(x, kind, index, name="x"):
    """alloc(shape, dtype_name) -> an empty array of x's library on x's device. Outputs are made
    by the caller's own array library so they come back as what the caller uses (torch tensors for
    torch, numpy arrays for numpy) with no copy and no extra wrapper."""
    torch, cupy = _torch(), _cupy()
    if is_torch(x):
        device = x.device
        return lambda shape, dtype: torch.empty(shape, dtype=getattr(torch, dtype), device=device)
    if is_cupy(x):
        def alloc(shape, dtype):
            with cupy.cuda.Device(index):
                return cupy.empty(shape, dtype=dtype)
        return alloc
    if kind == CPU:
        try:
            import numpy
        except ImportError:
            raise error("unsupported",
                        f"{name}: outputs for {type(x).__name__} inputs are numpy arrays, and numpy "
                        "is not installed") from None
        return lambda shape, dtype: numpy.empty(shape, dtype=dtype)
    # CUDA memory from another library (jax, ...): allocate with torch or cupy if installed.
    try:
        import torch
        device = torch.device("cuda", index)
        return lambda shape, dtype: torch.empty(shape, dtype=getattr(torch, dtype), device=device)
    except ImportError:
        pass
    try:
        import cupy

        def alloc(shape, dtype):
            with cupy.cuda.Device(index):
                return cupy.empty(shape, dtype=dtype)
        return alloc
    except ImportError:
        raise error("unsupported",
                    f"{name}: allocating CUDA outputs for {type(x).__name__} inputs needs torch or "
                    "cupy") from None
