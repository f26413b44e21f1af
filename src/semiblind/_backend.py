"""Array conventions: torch tensors inside, NumPy at the public API.

Every public function accepts NumPy arrays or torch tensors and, unless documented otherwise, returns the same
kind it was given. Internally all computation is batched torch (leading batch dimension ``B``), float32 by
default, float64 on request, on any device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

DEFAULT_DTYPE = torch.float32

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float": torch.float32,
    "double": torch.float64,
}


def resolve_dtype(dtype: Any) -> torch.dtype:
    """Map ``None``/``"float32"``/``"float64"``/``numpy`` or ``torch`` float dtypes to a torch float dtype."""
    if dtype is None:
        return DEFAULT_DTYPE
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be float32 or float64; got {dtype}.")
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        np_dtype = None
    if np_dtype == np.float32:
        return torch.float32
    if np_dtype == np.float64:
        return torch.float64
    raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}.")


_DEVICE_HELP = "'cpu', 'cuda', 'cuda:<index>' or 'mps'"


def resolve_device(device: Any, *, argument: str = "device") -> torch.device:
    """``None``/``"cpu"``/``"cuda"``/``"cuda:1"``/an int (a CUDA index)/``"mps"``/a ``torch.device`` → a
    ``torch.device`` that this torch build can actually use.

    Raises one ``ValueError`` sentence naming ``argument`` for an unknown device, a CUDA device on a torch
    without CUDA (or without a GPU), a CUDA index beyond the GPUs present, or MPS where it is unavailable —
    instead of torch's ``AssertionError``/``RuntimeError`` at the first allocation.
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, bool):
        raise ValueError(f"{argument} must be {_DEVICE_HELP}; got {device!r}.")
    if isinstance(device, (int, np.integer)):
        if device < 0:
            raise ValueError(f"{argument} must be {_DEVICE_HELP} (an int is a CUDA index >= 0); got {device}.")
        dev = torch.device("cuda", int(device))
    elif isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device.strip())
        except (RuntimeError, ValueError, TypeError):
            raise ValueError(f"{argument} must be {_DEVICE_HELP}; got {device!r}.") from None
    else:
        raise ValueError(f"{argument} must be {_DEVICE_HELP}; got {type(device).__name__}.")
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.backends.cuda.is_built():
            raise ValueError(f"{argument} {str(device)!r} needs a torch built with CUDA; this torch "
                             f"({torch.__version__}) is CPU-only, so use device='cpu'.")
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{argument} {str(device)!r} needs a CUDA GPU; none is available on this machine, "
                             "so use device='cpu'.")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"{argument} {str(device)!r} names CUDA GPU {dev.index}; this machine has {count} "
                             f"(indices 0 to {count - 1}).")
        return dev
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"{argument} {str(device)!r} needs Apple's MPS backend, which this torch or machine "
                             "does not provide; use device='cpu'.")
        return dev
    raise ValueError(f"{argument} must be {_DEVICE_HELP}; got {str(device)!r}.")


def as_tensor(x: Any, dtype: Any = None, device: Any = None) -> torch.Tensor:
    """Convert ``x`` (NumPy array, tensor, nested list) to a float torch tensor (no copy when possible).

    ``device`` is checked with :func:`resolve_device` (a sentence, not torch's error, for an unusable one).
    """
    dt = resolve_dtype(dtype)
    if device is not None and not (isinstance(device, torch.device) and device.type == "cpu"):
        device = resolve_device(device)
    if isinstance(x, torch.Tensor):
        return x.to(dtype=dt, device=device if device is not None else x.device)
    arr = np.asarray(x)
    return torch.as_tensor(np.ascontiguousarray(arr), dtype=dt, device=device)


def to_numpy(x: Any) -> np.ndarray:
    """Detach a tensor and return a NumPy array (arrays pass through)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def like_input(result: torch.Tensor, reference: Any) -> Any:
    """Return ``result`` as a tensor if ``reference`` was a tensor, else as a NumPy array."""
    if isinstance(reference, torch.Tensor):
        return result
    return to_numpy(result)


def float_dtype_of(x: Any) -> torch.dtype:
    """The float dtype to compute in for input ``x``: float64 stays float64, everything else is float32."""
    if isinstance(x, torch.Tensor):
        return torch.float64 if x.dtype == torch.float64 else torch.float32
    arr = np.asarray(x)
    return torch.float64 if arr.dtype == np.float64 else torch.float32


def spectral_norm_sq(M: torch.Tensor) -> torch.Tensor:
    """Largest eigenvalue of ``MᵀM`` (= ‖M‖₂²) for a batch of matrices ``(..., p, q)``; shape ``(...)``.

    Used for Lipschitz constants: L_S = ‖AᵀA‖₂ = ‖A‖₂² and L_A = ‖SSᵀ‖₂ = ‖S‖₂².
    Computed from the smaller Gram matrix with a symmetric eigen-solver.
    """
    p, q = M.shape[-2], M.shape[-1]
    G = M.mT @ M if q <= p else M @ M.mT
    return torch.linalg.eigvalsh(G)[..., -1].clamp_min(0)


def make_rng(random_state: Any) -> np.random.Generator:
    """``None``/int/``SeedSequence``/``Generator`` → ``numpy.random.Generator``; a Generator is kept."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(random_state)
    raise TypeError(
        "random_state must be None, an int or a numpy.random.Generator; "
        f"got {type(random_state).__name__}."
    )
